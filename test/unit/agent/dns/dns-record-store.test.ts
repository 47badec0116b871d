import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DnsRecordStore, parseDnsPush } from '../../../../src/agent/dns/dns-record-store.js';
import { DnsService } from '../../../../src/agent/dns/dns-service.js';
import { DnsVersionMismatchError, InvalidInputError } from '../../../../src/common/errors.js';
import { silentLogger } from '../../../../src/common/logger.js';
import { pollUntil } from '../../../../src/common/waiting.js';
import { instance, recordSet } from './dns-fixtures.js';

describe('DNS record store (versions, deltas)', () => {
  it('a full push replaces the set; an older one is acknowledged and ignored', () => {
    const store = new DnsRecordStore();
    expect(store.version).toBe(0);
    expect(store.apply({ kind: 'full', set: recordSet(5, [instance(0, '10.0.0.1')]) })).toEqual({ result: { version: 5 }, outcome: 'replaced' });
    expect(store.apply({ kind: 'full', set: recordSet(4, []) })).toEqual({ result: { version: 5 }, outcome: 'ignored' });
    expect(store.set.instances).toHaveLength(1);
  });

  it('a delta against the version the agent has upserts, removes and replaces the aliases', () => {
    const store = new DnsRecordStore(recordSet(5, [instance(0, '10.0.0.1'), instance(1, '10.0.0.2')], [{ name: 'a.bosun', target: 'db.prod.bosun' }]));
    const moved = instance(0, '10.0.0.9');
    store.apply({ kind: 'delta', baseVersion: 5, version: 6, upsert: [moved, instance(2, '10.0.0.3')], remove: [{ deployment: 'prod', group: 'db', index: 1 }] });
    expect(store.version).toBe(6);
    expect(store.set.instances.map((i) => [i.index, i.address])).toEqual([[0, '10.0.0.9'], [2, '10.0.0.3']]);
    expect(store.set.aliases).toEqual([{ name: 'a.bosun', target: 'db.prod.bosun' }]);
    store.apply({ kind: 'delta', baseVersion: 6, version: 7, upsert: [], remove: [], aliases: [] });
    expect(store.set.aliases).toEqual([]);
  });

  it('a stale delta is ignored; one against another version is refused with the version the agent has', () => {
    const store = new DnsRecordStore(recordSet(5, []));
    expect(store.apply({ kind: 'delta', baseVersion: 3, version: 4, upsert: [instance(0, '10.0.0.1')], remove: [] }).outcome).toBe('ignored');
    let err: unknown;
    try {
      store.apply({ kind: 'delta', baseVersion: 4, version: 6, upsert: [], remove: [] });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DnsVersionMismatchError);
    expect(err).toMatchObject({ code: 'dns_version_mismatch', httpStatus: 409, details: { version: 5 } });
    expect(store.version).toBe(5);
  });

  it('refuses a malformed push, naming what is wrong', () => {
    expect(() => parseDnsPush({ kind: 'full', set: { version: -1, instances: [], aliases: [] } })).toThrow(InvalidInputError);
    expect(() => parseDnsPush({ kind: 'delta', baseVersion: 1, version: 2, upsert: [{ group: 'x' }], remove: [] })).toThrow(/upsert\.0/);
    expect(() => parseDnsPush(null)).toThrow(InvalidInputError);
  });
});

describe('DNS service: the record set on disk', () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('keeps the last set across a restart (mode 0600) and answers from it', async () => {
    dir = await mkdtemp(join(tmpdir(), 'bosun-dns-'));
    const first = await DnsService.create({ address: '127.0.0.1', port: null, dataDir: dir, log: silentLogger });
    await first.update({ kind: 'full', set: recordSet(3, [instance(0, '10.0.0.1')]) });
    await first.update({ kind: 'delta', baseVersion: 3, version: 4, upsert: [instance(1, '10.0.0.2')], remove: [] });
    await first.close();
    const file = join(dir, 'dns-records.json');
    expect((await stat(file)).mode & 0o777).toBe(0o600);

    const again = await DnsService.create({ address: '127.0.0.1', port: null, dataDir: dir, log: silentLogger });
    expect(again.get().version).toBe(4);
    expect(again.resolver.lookup('db.prod.bosun', 'A')?.answers).toHaveLength(2);
    // The next delta applies to the version kept on disk.
    expect(await again.update({ kind: 'delta', baseVersion: 4, version: 5, upsert: [], remove: [{ deployment: 'prod', group: 'db', index: 0 }] })).toEqual({ version: 5 });
    expect(JSON.parse(await readFile(file, 'utf8'))).toMatchObject({ version: 5 });
  });

  it("forwards to the manifest's docker.dns when set, else to the VM's resolvers", async () => {
    dir = await mkdtemp(join(tmpdir(), 'bosun-dns-'));
    const svc = await DnsService.create({ address: '127.0.0.1', port: 0, dataDir: dir, upstreams: [{ host: '10.0.0.2', port: 53 }], log: silentLogger });
    await svc.listen();
    try {
      expect(svc.listeningPort).toBeGreaterThan(0);
      // Not on port 53: containers' resolvers cannot use it, so they keep Docker's.
      expect(svc.serverAddress).toBeNull();
      expect(svc.upstreams).toEqual([{ host: '10.0.0.2', port: 53 }]);
      svc.useDockerDns(['1.1.1.1', '127.0.0.1']);
      expect(svc.upstreams).toEqual([{ host: '1.1.1.1', port: 53 }]);
      svc.useDockerDns([]);
      expect(svc.upstreams).toEqual([{ host: '10.0.0.2', port: 53 }]);
    } finally {
      await svc.close();
    }
  });

  it('reads the VM resolv.conf again: resolvers that appear after the agent started are used', async () => {
    dir = await mkdtemp(join(tmpdir(), 'bosun-dns-'));
    const resolvConfPath = join(dir, 'resolv.conf');
    const svc = await DnsService.create({ address: '127.0.0.1', port: 0, dataDir: dir, resolvConfPath, resolvConfRefreshMs: 20, log: silentLogger });
    await svc.listen();
    try {
      expect(svc.upstreams).toEqual([]);
      await writeFile(resolvConfPath, 'nameserver 127.0.0.1\nnameserver 10.0.0.3\n');
      await pollUntil(async () => (svc.upstreams.length > 0 ? true : undefined), { timeoutMs: 2000, intervalMs: 10, what: 'resolv.conf read again' });
      expect(svc.upstreams).toEqual([{ host: '10.0.0.3', port: 53 }]);
    } finally {
      await svc.close();
    }
  });

  it('starts empty from a damaged file rather than not at all', async () => {
    dir = await mkdtemp(join(tmpdir(), 'bosun-dns-'));
    await writeFile(join(dir, 'dns-records.json'), '{"version": "x"');
    const svc = await DnsService.create({ address: '127.0.0.1', port: null, dataDir: dir, log: silentLogger });
    expect(svc.get().version).toBe(0);
  });
});
