/**
 * A VM whose cloud did not tell its address (a dynamic network; bosh-docker-cpi answers create_vm
 * without an IP): the director learns it from the agent's heartbeat. The intake records it only
 * where none is recorded, and only for the VM the heartbeat names; a new VM's agent is waited for
 * until its address came; an agent that never sends a heartbeat fails the wait saying so.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { TLSSocket } from 'node:tls';
import type { FastifyRequest } from 'fastify';
import type { CreateVmRequest, CreateVmResult } from '../../../src/cloud/cloud.js';
import { FakeCloud, type FakeCloudOptions } from '../../../src/cloud/fake/index.js';
import type { Heartbeat } from '../../../src/common/contracts/agent-protocol.js';
import type { CckResult } from '../../../src/common/contracts/api.js';
import { pollUntil } from '../../../src/common/waiting.js';
import { authenticateAgent } from '../../../src/director/api/routes/agents.js';
import { parseHeartbeat } from '../../../src/director/api/routes/agent-bodies.js';
import { waitForAgentAddress } from '../../../src/director/agent-client/agent-wait.js';
import { HeartbeatIntake } from '../../../src/director/heartbeat-intake.js';
import { Store } from '../../../src/store/store.js';
import { createTestDirector, deployAndWait, type TestDirector } from '../../helpers/director-fixtures.js';

const vitals: Heartbeat['vitals'] = { load: [0, 0, 0], cpu: { user: 0, sys: 0, wait: 0 }, mem: { percent: 0, kb: 0 }, swap: { percent: 0, kb: 0 }, disk: {} };
const heartbeat = (over: Partial<Heartbeat>): Heartbeat => ({
  agentId: 'agent-1',
  vmCid: 'vm-1',
  deployment: 'd',
  group: 'g',
  index: 0,
  instanceId: 'i1',
  jobState: 'running',
  containers: [],
  vitals,
  timestamp: new Date().toISOString(),
  ...over,
});

describe('the heartbeat intake and the VM address', () => {
  let store: Store;
  afterEach(async () => {
    await store.close();
  });
  const intake = (creating: Set<string> = new Set()): HeartbeatIntake =>
    new HeartbeatIntake(store, () => ({ recordHeartbeat: async () => undefined, recordAgentAlert: async () => undefined }), creating);
  const withVm = async (ip: string | null): Promise<void> => {
    store = await Store.create({ kind: 'sqlite', path: ':memory:' });
    await store.instances.create({ id: 'i1', deployment: 'd', group: 'g', index: 0 });
    await store.vms.create({ cid: 'vm-1', agentId: 'agent-1', instanceId: 'i1', ip });
    await store.instances.setVm('i1', { vmCid: 'vm-1', agentId: 'agent-1', ip });
  };

  it('records the address the agent tells for a VM whose address is not known', async () => {
    await withVm(null);
    await intake().recordHeartbeat(heartbeat({ ip: '172.17.0.3' }));
    expect((await store.instances.get('i1'))?.ip).toBe('172.17.0.3');
    expect((await store.vms.get('vm-1'))?.ip).toBe('172.17.0.3');
  });

  it('never overwrites an address the cloud gave', async () => {
    await withVm('10.244.0.5');
    await intake().recordHeartbeat(heartbeat({ ip: '172.17.0.3' }));
    expect((await store.instances.get('i1'))?.ip).toBe('10.244.0.5');
    expect((await store.vms.get('vm-1'))?.ip).toBe('10.244.0.5');
  });

  it('records nothing for a heartbeat that names another VM than the recorded one', async () => {
    await withVm(null);
    await intake().recordHeartbeat(heartbeat({ vmCid: 'vm-old', ip: '172.17.0.9' }));
    expect((await store.instances.get('i1'))?.ip).toBeNull();
  });

  it('remembers the address of an agent whose VM is still being created', async () => {
    store = await Store.create({ kind: 'sqlite', path: ':memory:' });
    const i = intake(new Set(['agent-new']));
    expect(i.addressOf('agent-new')).toBeNull();
    await i.recordHeartbeat(heartbeat({ agentId: 'agent-new', vmCid: 'vm-new', ip: '172.17.0.4' }));
    expect(i.addressOf('agent-new')).toBe('172.17.0.4');
  });
});

describe('the heartbeat route', () => {
  const req = (cn: string, agentId: string): FastifyRequest =>
    ({
      params: { agentId },
      raw: { socket: { getPeerCertificate: () => ({ subject: { CN: cn } }), authorized: true } as unknown as TLSSocket },
    }) as unknown as FastifyRequest;

  it('is refused when the agent id in the path is not the client certificate\'s', () => {
    expect(() => authenticateAgent(req('agent-1', 'agent-1'))).not.toThrow();
    expect(() => authenticateAgent(req('agent-2', 'agent-1'))).toThrow(/belongs to agent "agent-2", not to agent agent-1/);
  });

  it('takes a body only for the agent of the path, keeps its address and drops one that is not an address', () => {
    expect(parseHeartbeat(heartbeat({ ip: '172.17.0.3' }), 'agent-1').ip).toBe('172.17.0.3');
    expect(parseHeartbeat(heartbeat({ ip: 'not an address' }), 'agent-1').ip).toBeUndefined();
    expect(() => parseHeartbeat(heartbeat({ ip: '172.17.0.3' }), 'agent-2')).toThrow(/does not match the agent agent-2 in the path/);
  });
});

describe('waiting for a new VM\'s address', () => {
  const cloud = new FakeCloud();
  const base = { cloud, vmCid: 'vm-1', agentId: 'agent-1', instance: 'web/0', intervalMs: 10 };

  it('returns the address once the agent\'s heartbeat told it', async () => {
    let asks = 0;
    const ip = await waitForAgentAddress({ ...base, timeoutMs: 2000, address: () => (++asks < 3 ? null : '172.17.0.3') });
    expect(ip).toBe('172.17.0.3');
    expect(asks).toBe(3);
  });

  it('fails saying the agent never sent a heartbeat, and what that means', async () => {
    await expect(waitForAgentAddress({ ...base, timeoutMs: 100, address: () => null })).rejects.toThrow(
      /did not tell the address of VM vm-1 \(instance web\/0.*its agent agent-1 never sent a heartbeat within 0.1 s.*cannot reach the director/s,
    );
  });
});

/** A cloud whose create_vm answers no address (a dynamic network); its agents' heartbeats carry it. */
class DynamicNetworkCloud extends FakeCloud {
  readonly addresses = new Map<string, string>();
  /** Whether the agents' heartbeats carry the address (false: as an agent that cannot reach the director). */
  tellAddress: boolean;
  /** Agents whose heartbeats never carry the address. */
  readonly silent = new Set<string>();
  constructor(options: FakeCloudOptions & { tellAddress: boolean; director: () => TestDirector | undefined }) {
    super({
      unresponsiveTimeoutMs: 100,
      heartbeatIntervalMs: 20,
      onHeartbeat: (hb) => {
        const ip = this.tellAddress && !this.silent.has(hb.agentId) ? this.addresses.get(hb.agentId) : undefined;
        void options.director()?.director.recordHeartbeat({ ...hb, ...(ip === undefined ? {} : { ip }) }).catch(() => undefined);
      },
      ...options,
    });
    this.tellAddress = options.tellAddress;
    // As the HTTPS connector does: no agent is reached at an unknown address.
    const inner = this.agentConnector;
    Object.defineProperty(this, 'agentConnector', {
      value: {
        connect: (target: Parameters<typeof inner.connect>[0]) => {
          if (!target.ip) throw new Error(`Agent ${target.agentId} (VM ${target.vmCid}) has no IP address`);
          return inner.connect(target);
        },
      },
    });
  }
  override async createVm(request: CreateVmRequest): Promise<CreateVmResult> {
    const created = await super.createVm(request);
    const networks: CreateVmResult['networks'] = {};
    for (const [name, n] of Object.entries(created.networks)) {
      this.addresses.set(request.agentId, n.ip);
      networks[name] = { ...n, ip: '' };
    }
    return { vmCid: created.vmCid, networks };
  }
}

describe('deploying on a cloud that tells no address', () => {
  let t: TestDirector | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });
  const manifest = { name: 'demo', groups: [{ name: 'db', instances: 1, containers: [{ name: 'redis', image: 'redis:7' }] }] };

  it('waits for the agent\'s heartbeat and records the address it tells', async () => {
    const cloud = new DynamicNetworkCloud({ tellAddress: true, director: () => t });
    t = await createTestDirector({ cloudInstance: cloud, config: { agentWaitTimeoutMs: 3000 } });
    const task = await deployAndWait(t.director, manifest);
    expect(task.error).toBeNull();
    const [i] = await t.director.listInstances('demo');
    expect(i?.ip).toBe(cloud.addresses.get(i?.agentId ?? ''));
    expect(i?.ip).toMatch(/^10\.244\./);
    // Pushes of DNS records, which need the address, reach the agent too.
    await pollUntil(async () => (cloud.agentOf(i?.agentId ?? '')?.calls.some((c) => c.action === 'updateDns') ? true : undefined), { timeoutMs: 3000, intervalMs: 20, what: 'a DNS push' });
  });

  it('fails the deploy saying the agent never sent a heartbeat', async () => {
    const cloud = new DynamicNetworkCloud({ tellAddress: false, director: () => t });
    t = await createTestDirector({ cloudInstance: cloud, config: { agentWaitTimeoutMs: 300 } });
    const task = await deployAndWait(t.director, manifest);
    expect(task.error).toMatch(/never sent a heartbeat within 0.3 s/);
  });

  it('a later deploy finds the VM without an address and waits for its heartbeat, instead of failing to connect', async () => {
    const cloud = new DynamicNetworkCloud({ tellAddress: false, director: () => t });
    t = await createTestDirector({ cloudInstance: cloud, config: { agentWaitTimeoutMs: 300 } });
    expect((await deployAndWait(t.director, manifest)).error).toMatch(/never sent a heartbeat/);
    const [before] = await t.director.listInstances('demo');
    expect(before?.vmCid).not.toBeNull();
    expect(before?.ip).toBeNull();
    // Listing works meanwhile; what needs the agent says why it cannot be reached yet.
    expect((await t.director.listInstances('demo', { ps: true }))[0]?.vmCid).toBe(before?.vmCid);
    await expect(t.director.fetchLogs('demo', 'db', 0, 'redis', 10)).rejects.toThrow(/address of instance db\/0's VM .* is not known yet: its cloud did not tell it and its agent has not sent a heartbeat/);
    cloud.tellAddress = true;
    expect((await deployAndWait(t.director, manifest)).error).toBeNull();
    const [after] = await t.director.listInstances('demo');
    expect(after?.vmCid).toBe(before?.vmCid);
    expect(after?.ip).toBe(cloud.addresses.get(after?.agentId ?? ''));
  });

  it('recreate replaces a VM whose address never came (it cannot be drained, it is deleted)', async () => {
    const cloud = new DynamicNetworkCloud({ tellAddress: true, director: () => t });
    t = await createTestDirector({ cloudInstance: cloud, config: { agentWaitTimeoutMs: 1000 } });
    expect((await deployAndWait(t.director, manifest)).error).toBeNull();
    const [before] = await t.director.listInstances('demo');
    // As if its agent had never told the address.
    cloud.silent.add(before?.agentId ?? '');
    await t.director.store.instances.setVm(before?.id ?? '', { vmCid: before?.vmCid ?? '', agentId: before?.agentId ?? '', ip: null });
    // cloud-check reports its agent as unresponsive (it cannot be reached) instead of failing the scan.
    const scan = await t.director.tasks.wait((await t.director.cloudCheck('demo', { report: true }, 'admin')).id);
    expect(scan.error).toBeNull();
    expect((JSON.parse(scan.result ?? '{}') as CckResult).problems.map((p) => p.type)).toEqual(['unresponsive_agent']);
    const task = await t.director.tasks.wait((await t.director.runJob('demo', { action: 'recreate', group: 'db', index: 0 }, 'admin')).id);
    expect(task.error).toBeNull();
    const [after] = await t.director.listInstances('demo');
    expect(after?.vmCid).not.toBe(before?.vmCid);
    expect(after?.ip).toBe(cloud.addresses.get(after?.agentId ?? ''));
  });
});
