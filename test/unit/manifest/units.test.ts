import { describe, expect, it } from 'vitest';
import {
  parseBytes,
  parseDurationMs,
  parseMaxInFlight,
  parsePortBinding,
  parseUlimit,
  parseWatchTime,
  resolveMaxInFlight,
  splitWords,
} from '../../../src/manifest/units.js';
import { parseStoreDir, parseVolume } from '../../../src/manifest/volumes.js';

describe('value syntaxes', () => {
  it('parses sizes in binary units', () => {
    expect(parseBytes('256m').value).toBe(268435456);
    expect(parseBytes('1g').value).toBe(1073741824);
    expect(parseBytes('2GiB').value).toBe(2 * 1024 ** 3);
    expect(parseBytes('512k').value).toBe(524288);
    expect(parseBytes(1000).value).toBe(1000);
    expect(parseBytes('-1', { allowMinusOne: true }).value).toBe(-1);
    expect(parseBytes('-1').error).toBeDefined();
    expect(parseBytes('256x').error).toContain('is not a size');
  });

  it('parses durations and refuses bare numbers', () => {
    expect(parseDurationMs('10s').value).toBe(10_000);
    expect(parseDurationMs('500ms').value).toBe(500);
    expect(parseDurationMs('1m30s').value).toBe(90_000);
    expect(parseDurationMs('1.5s').value).toBe(1500);
    expect(parseDurationMs('2h').value).toBe(7_200_000);
    expect(parseDurationMs(10).error).toContain('has no unit');
    expect(parseDurationMs('10').error).toBeDefined();
    expect(parseDurationMs('s').error).toBeDefined();
  });

  it('parses port mappings', () => {
    expect(parsePortBinding('6379:6379').value).toEqual({
      hostPort: 6379,
      containerPort: 6379,
      protocol: 'tcp',
    });
    expect(parsePortBinding('127.0.0.1:6379:6380/udp').value).toEqual({
      hostIp: '127.0.0.1',
      hostPort: 6379,
      containerPort: 6380,
      protocol: 'udp',
    });
    expect(parsePortBinding('127.0.0.1::80').value).toEqual({
      hostIp: '127.0.0.1',
      containerPort: 80,
      protocol: 'tcp',
    });
    expect(parsePortBinding('[::1]:53:53/udp').value).toEqual({
      hostIp: '::1',
      hostPort: 53,
      containerPort: 53,
      protocol: 'udp',
    });
    expect(parsePortBinding(8080).value).toEqual({ containerPort: 8080, protocol: 'tcp' });
    expect(parsePortBinding('1:2:3:4').error).toBeDefined();
    expect(parsePortBinding('0:80').error).toBeDefined();
  });

  it('parses watch times, max_in_flight and resolves percentages like BOSH', () => {
    expect(parseWatchTime('1000-30000').value).toEqual({ minMs: 1000, maxMs: 30000 });
    expect(parseWatchTime(5000).value).toEqual({ minMs: 5000, maxMs: 5000 });
    expect(parseMaxInFlight('25%').value).toEqual({ kind: 'percent', percent: 25 });
    expect(parseMaxInFlight(0).error).toBeDefined();
    expect(resolveMaxInFlight({ kind: 'percent', percent: 25 }, 10)).toBe(2);
    expect(resolveMaxInFlight({ kind: 'percent', percent: 10 }, 3)).toBe(1);
    expect(resolveMaxInFlight({ kind: 'count', count: 4 }, 3)).toBe(4);
  });

  it('parses ulimits', () => {
    expect(parseUlimit('nofile=1024:2048').value).toEqual({ Name: 'nofile', Soft: 1024, Hard: 2048 });
    expect(parseUlimit('nproc=512').value).toEqual({ Name: 'nproc', Soft: 512, Hard: 512 });
    expect(parseUlimit('nofile=2048:1024').error).toContain('above the hard limit');
  });

  it('splits words like a shell without expanding anything', () => {
    expect(splitWords(`a 'b c' "d \\"e\\" $F" g\\ h`).value).toEqual(['a', 'b c', 'd "e" $F', 'g h']);
    expect(splitWords('  ').value).toEqual([]);
    expect(splitWords("'open").error).toContain('unterminated');
  });

  it('keeps volume and store paths inside the persistent disk', () => {
    expect(parseVolume('shared/x:/x:ro').value).toEqual({
      hostPath: 'shared/x',
      target: '/x',
      readOnly: true,
      mode: 'ro',
    });
    expect(parseVolume('/x').value).toEqual({ target: '/x', readOnly: false });
    // The release's mount point of the persistent disk is the store; other absolute paths are the VM's own.
    expect(parseVolume('/var/vcap/store/shared:/x').value).toEqual({
      hostPath: 'shared',
      fromStoreRoot: true,
      target: '/x',
      readOnly: false,
    });
    expect(parseVolume('/etc:/x').value).toEqual({ vmPath: '/etc', target: '/x', readOnly: false });
    expect(parseVolume('/etc/../x:/x').error).toContain('..');
    expect(parseVolume('a/../../b:/x').error).toContain('escapes');
    expect(parseStoreDir('/var/vcap/store').value).toBe('');
    expect(parseStoreDir('/var/vcap/store/sub').value).toBe('sub');
    expect(parseStoreDir('../up').error).toContain('..');
  });
});
