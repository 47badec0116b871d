import { afterEach, describe, expect, it } from 'vitest';
import type { AgentAlert, Heartbeat } from '../../../../src/common/contracts/agent-protocol.js';
import { alertsOf, buildRig, deployFake, waitFor, type HealthRig } from './health-kit.js';

let rig: HealthRig | undefined;
afterEach(async () => {
  await rig?.close();
  rig = undefined;
});

function heartbeat(agentId: string, vmCid: string, patch: Partial<Heartbeat> = {}): Heartbeat {
  return {
    agentId,
    vmCid,
    deployment: 'demo',
    group: 'db',
    index: 0,
    instanceId: null,
    jobState: 'running',
    containers: [],
    vitals: {
      load: [0, 0, 0],
      cpu: { user: 0, sys: 0, wait: 0 },
      mem: { percent: 1, kb: 1 },
      swap: { percent: 0, kb: 0 },
      disk: {},
    },
    timestamp: new Date().toISOString(),
    ...patch,
  };
}

describe('health monitor', () => {
  it('raises one agent_unresponsive alert per episode, and again after the agent came back and left again', async () => {
    rig = buildRig({ resurrector: { enabled: false } });
    rig.store.global = false;
    const [inst] = await deployFake(rig.cloud, rig.store, { count: 1 });
    const agentId = inst?.agentId ?? '';
    rig.monitor.start();
    await waitFor(() => rig!.monitor.isResponsive(agentId), 1000, 'heartbeat');
    rig.cloud.makeAgentUnresponsive(agentId, true);
    await waitFor(() => alertsOf(rig!.store, 'agent_unresponsive').length === 1, 1000, 'alert');
    await new Promise((r) => setTimeout(r, 150)); // several more analyses: still one alert
    const [a] = alertsOf(rig.store, 'agent_unresponsive');
    expect(alertsOf(rig.store, 'agent_unresponsive')).toHaveLength(1);
    expect(a).toMatchObject({ severity: 2, deployment: 'demo', instance: 'db/0' });
    expect(a?.summary).toContain(agentId);
    rig.cloud.makeAgentUnresponsive(agentId, false);
    await waitFor(() => rig!.monitor.isResponsive(agentId), 1000, 'back');
    await new Promise((r) => setTimeout(r, 60));
    rig.cloud.makeAgentUnresponsive(agentId, true);
    await waitFor(() => alertsOf(rig!.store, 'agent_unresponsive').length === 2, 1000, 'second alert');
  });

  it('reports a missing VM, an instance without VM, an unknown VM and a rogue agent', async () => {
    rig = buildRig({ resurrector: { enabled: false }, health: { rogueAlertMs: 0 } });
    rig.store.global = false;
    const [a, b] = await deployFake(rig.cloud, rig.store, { count: 2 });
    rig.cloud.loseVm(a?.vmCid ?? '');
    await rig.store.setInstanceVm(b?.id ?? '', null); // b's VM is now owned by nobody
    await rig.monitor.recordHeartbeat(heartbeat('stranger', 'vm-x'));
    await rig.monitor.analyze();
    await rig.monitor.analyze();
    expect(alertsOf(rig.store, 'vm_missing')).toHaveLength(1);
    expect(alertsOf(rig.store, 'vm_missing')[0]?.instance).toBe('db/0');
    expect(alertsOf(rig.store, 'instance_without_vm')).toHaveLength(1);
    expect(alertsOf(rig.store, 'unknown_vm').map((x) => x.summary)).toEqual([
      expect.stringContaining(b?.vmCid ?? '?'),
    ]);
    expect(alertsOf(rig.store, 'rogue_agent').map((x) => x.summary)).toEqual([
      expect.stringContaining('stranger'),
    ]);
  });

  it('a replacement VM that goes missing before any healthy analysis is a new alert', async () => {
    rig = buildRig({ resurrector: { enabled: false } });
    rig.store.global = false;
    const [inst] = await deployFake(rig.cloud, rig.store, { count: 1 });
    rig.cloud.loseVm(inst?.vmCid ?? '');
    await rig.monitor.analyze();
    const [other] = await deployFake(rig.cloud, rig.store, { count: 1, deployment: 'scratch' });
    rig.store.instances.delete(other?.id ?? '');
    await rig.store.setInstanceVm(inst?.id ?? '', {
      vmCid: other?.vmCid ?? '',
      agentId: other?.agentId ?? '',
      ip: null,
    });
    rig.cloud.loseVm(other?.vmCid ?? '');
    await rig.monitor.analyze();
    expect(alertsOf(rig.store, 'vm_missing').map((a) => a.summary)).toEqual([
      expect.stringContaining(inst?.vmCid ?? '?'),
      expect.stringContaining(other?.vmCid ?? '?'),
    ]);
  });

  it('reports flapping and failing containers and nearly full disks from heartbeats, once per condition', async () => {
    rig = buildRig();
    const [inst] = await deployFake(rig.cloud, rig.store, { count: 1 });
    await rig.monitor.analyze();
    const id = inst?.agentId ?? '';
    const vm = inst?.vmCid ?? '';
    const bad = heartbeat(id, vm, {
      containers: [
        { name: 'redis', state: 'restarting', restarts: 7, flapping: true, uptimeSeconds: 0 },
        { name: 'web', state: 'failed', restarts: 0, flapping: false, uptimeSeconds: 0 },
      ],
      vitals: {
        load: [0, 0, 0],
        cpu: { user: 0, sys: 0, wait: 0 },
        mem: { percent: 1, kb: 1 },
        swap: { percent: 0, kb: 0 },
        disk: {
          persistent: { percent: 95, usedBytes: 95, totalBytes: 100 },
          ephemeral: { percent: 50, usedBytes: 5, totalBytes: 10 },
        },
      },
    });
    await rig.monitor.recordHeartbeat(bad);
    await rig.monitor.recordHeartbeat(bad);
    expect(alertsOf(rig.store, 'container_flapping')).toHaveLength(1);
    expect(alertsOf(rig.store, 'container_flapping')[0]).toMatchObject({
      severity: 3,
      instance: 'db/0',
      deployment: 'demo',
    });
    expect(alertsOf(rig.store, 'container_failing')).toHaveLength(1);
    expect(alertsOf(rig.store, 'disk_full')).toHaveLength(1);
    expect(alertsOf(rig.store, 'disk_full')[0]?.summary).toMatch(/persistent disk .* 95%/);
    // An agent's own alert about the same flapping container is not a second alert.
    await rig.monitor.recordAgentAlert({
      agentId: id,
      severity: 3,
      category: 'container_flapping',
      title: 'flapping',
      summary: 's',
      container: 'redis',
      timestamp: '',
    });
    expect(alertsOf(rig.store, 'container_flapping')).toHaveLength(1);
    const dockerdFailing: AgentAlert = {
      agentId: id,
      severity: 2,
      category: 'dockerd_failing',
      title: 'dockerd keeps dying',
      summary: 's',
      timestamp: '',
    };
    await rig.monitor.recordAgentAlert(dockerdFailing);
    await rig.monitor.recordAgentAlert(dockerdFailing);
    expect(alertsOf(rig.store, 'dockerd_failing')).toHaveLength(1);
    // Healthy again, then flapping again → a new alert.
    await rig.monitor.recordHeartbeat(heartbeat(id, vm));
    await rig.monitor.recordHeartbeat(bad);
    expect(alertsOf(rig.store, 'container_flapping')).toHaveLength(2);
  });

  it("the fake agents' own flapping container shows up through real heartbeats", async () => {
    rig = buildRig();
    rig.cloud.setFailingContainer('redis', true);
    await deployFake(rig.cloud, rig.store, { count: 1 });
    rig.monitor.start();
    await waitFor(() => alertsOf(rig!.store, 'container_flapping').length === 1, 1000, 'flapping alert');
  });

  it('stops cleanly and goes through its states', async () => {
    rig = buildRig();
    expect(rig.monitor.state).toBe('stopped');
    rig.monitor.start();
    expect(rig.monitor.state).toBe('running');
    await rig.monitor.stop();
    expect(rig.monitor.state).toBe('stopped');
  });
});
