import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../../src/common/errors.js';
import { compileLocalCloudConfig, defaultAgentCommand } from '../../../src/cloud/local/config.js';
import { hostVethName } from '../../../src/cloud/local/network.js';
import { parseSubnet } from '../../../src/cloud/local/ip.js';
import { shellQuote } from '../../../src/cloud/local/exec.js';

describe('local cloud config', () => {
  it('defaults bridge, subnet and agent command', () => {
    const c = compileLocalCloudConfig({ dataDir: '/var/lib/bosun/cloud' });
    expect(c.bridgeName).toBe('bosun0');
    expect(c.subnet).toMatchObject({ cidr: '10.244.0.0/16', gateway: '10.244.0.1', netmask: '255.255.0.0' });
    expect(c.agentCommand).toEqual(defaultAgentCommand());
    expect(c.agentCommand[1]).toMatch(/\/dist\/src\/agent\/main\.js$/);
    expect(c.agentCommand[1]).not.toContain('/dist/dist/');
    expect(c.agentRestartDelaySeconds).toBe(1);
  });

  it('rejects bad options with a sentence naming each one', () => {
    const bad = () =>
      compileLocalCloudConfig({
        dataDir: 'relative',
        bridgeName: 'a-very-long-bridge-name',
        agentCommand: [],
      });
    expect(bad).toThrow(InvalidInputError);
    expect(bad).toThrow(/dataDir: must be an absolute path.*bridgeName.*agentCommand/);
    expect(() => compileLocalCloudConfig({ dataDir: '/x', subnet: '10.1.0.0/33' })).toThrow(
      /not an IPv4 CIDR/,
    );
  });

  it('parses subnets and keeps the first address for the host', () => {
    const s = parseSubnet('10.210.7.99/24');
    expect(s).toMatchObject({ cidr: '10.210.7.0/24', gateway: '10.210.7.1', netmask: '255.255.255.0' });
    expect(s.lastVm - s.firstVm).toBe(252);
  });

  it('names the host veth within 15 characters, with part of the cid', () => {
    const name = hostVethName('vm-0123456789ab');
    expect(name.length).toBeLessThanOrEqual(15);
    expect(name).toContain('0123456789ab');
  });

  it('quotes shell words', () => {
    expect(shellQuote('/usr/bin/node')).toBe('/usr/bin/node');
    expect(shellQuote("it's a b")).toBe(`'it'\\''s a b'`);
  });
});
