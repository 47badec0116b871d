/**
 * cpi-certify for a CPI that tells no VM address: the agents' heartbeats are received (mutual TLS,
 * the certificate's CN the agent of the path) and their `ip` is where the agent is reached.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { DirectorClient } from '../../../src/agent/director-client.js';
import type { AgentSettings } from '../../../src/common/contracts/agent-settings.js';
import type { Heartbeat } from '../../../src/common/contracts/agent-protocol.js';
import { parseListen } from '../../../src/cli/commands/cpi-certify.js';
import { CertifyAgentSide } from '../../../src/director/cpi-certify/agent-side.js';
import { certifyCpi } from '../../../src/director/cpi-certify/certify-cpi.js';
import { createFakeCpi, ok, type FakeCpi } from '../../helpers/fake-cpi-script.js';

const heartbeat = (agentId: string, ip: string): Heartbeat => ({
  agentId,
  vmCid: 'vm-1',
  deployment: null,
  group: null,
  index: null,
  instanceId: null,
  jobState: 'unknown',
  containers: [],
  vitals: { load: [0, 0, 0], cpu: { user: 0, sys: 0, wait: 0 }, mem: { percent: 0, kb: 0 }, swap: { percent: 0, kb: 0 }, disk: {} },
  timestamp: new Date().toISOString(),
  ip,
});

let side: CertifyAgentSide | undefined;
let cpi: FakeCpi | undefined;
afterEach(() => {
  side?.close();
  cpi?.cleanup();
});

function agentClient(s: CertifyAgentSide, certsOf: string, agentId: string): DirectorClient {
  const env = s.agentEnv(certsOf);
  return new DirectorClient({ ...env, directorUrl: s.heartbeatUrl ?? '', agentId } as unknown as AgentSettings);
}

describe('cpi-certify\'s heartbeat listener', () => {
  it('learns the VM\'s address from its agent\'s heartbeat', async () => {
    side = new CertifyAgentSide('https://127.0.0.1:9');
    await side.startHeartbeats('127.0.0.1', 0);
    const client = agentClient(side, 'agent-1', 'agent-1');
    await client.heartbeat(heartbeat('agent-1', '172.17.0.3'));
    expect(await side.addressFromHeartbeat('agent-1', {}, 2000)).toBe('172.17.0.3');
    await client.close();
  });

  it('takes no address from an agent posting for another', async () => {
    side = new CertifyAgentSide('https://127.0.0.1:9');
    await side.startHeartbeats('127.0.0.1', 0);
    const client = agentClient(side, 'agent-1', 'agent-2');
    await expect(client.heartbeat(heartbeat('agent-2', '172.17.0.9'))).rejects.toThrow(/403/);
    await expect(side.addressFromHeartbeat('agent-2', {}, 300)).rejects.toThrow(/never sent a heartbeat to https:\/\/127\.0\.0\.1:\d+ within 0.3 s/);
    await client.close();
  });

  it('without --heartbeat-listen says how to certify a CPI that tells no address', async () => {
    side = new CertifyAgentSide('https://127.0.0.1:9');
    await expect(side.addressFromHeartbeat('agent-1', { default: { ip: '' } }, 300)).rejects.toThrow(/did not tell the VM's address.*give --heartbeat-listen HOST:PORT/);
  });

  it('fails the agent check, saying no heartbeat came, when the agent never posts one', async () => {
    cpi = createFakeCpi({ info: ok({ api_version: 2 }), create_vm: ok(['vm-7', { default: { type: 'dynamic' } }]), delete_vm: ok(null), has_vm: ok(false) });
    const report = await certifyCpi({ cloud: { cpi: cpi.path, cpiArgs: cpi.args }, agentTimeoutMs: 500, heartbeatListen: { host: '127.0.0.1', port: 0 } });
    const check = report.checks.find((c) => c.name === 'create_vm: agent answers ping');
    expect(check?.status).toBe('failed');
    expect(check?.detail).toMatch(/never sent a heartbeat to https:\/\/127\.0\.0\.1:\d+ within 0.5 s/);
    // The agent was told that listener as the director's URL.
    const env = cpi.requests()[1]?.arguments[5] as { bosun: { directorUrl: string } };
    expect(env.bosun.directorUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(report.checks.find((c) => c.name === 'delete_vm vm-7')?.status).toBe('passed');
  });

  it('--heartbeat-listen takes HOST:PORT', () => {
    expect(parseListen('10.244.0.1:25556')).toEqual({ host: '10.244.0.1', port: 25556 });
    expect(parseListen('[fd00::1]:7')).toEqual({ host: 'fd00::1', port: 7 });
    expect(() => parseListen('10.244.0.1')).toThrow(/takes HOST:PORT/);
  });
});
