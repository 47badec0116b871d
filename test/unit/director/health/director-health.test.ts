/**
 * The health parts inside the real Director: SQLite :memory:, the FakeCloud with fake agents
 * whose heartbeats reach director.recordHeartbeat, the task runner with its locks.
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { FakeCloud } from '../../../../src/cloud/fake/index.js';
import type { Director } from '../../../../src/director/director.js';
import type { Alert, CckResult } from '../../../../src/common/contracts/api.js';
import { addTestStemcell, manifestText, TEST_STEMCELL_VERSION, type TestManifest } from '../../../helpers/director-fixtures.js';
import { createHealthDirector, heartbeatingCloud, type HeartbeatTarget } from './health-director.js';
import { waitFor } from './health-kit.js';

interface Rig {
  director: Director;
  cloud: FakeCloud;
}

let rig: Rig | undefined;
const servers: Server[] = [];
afterEach(async () => {
  await rig?.director.close();
  rig?.cloud.shutdown();
  rig = undefined;
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
});

async function createRig(options: { start?: boolean; responders?: unknown[] } = {}): Promise<Rig> {
  const target: HeartbeatTarget = {};
  const cloud = heartbeatingCloud(target);
  const director = await createHealthDirector(cloud, target, {
    startHealthMonitor: options.start ?? true,
    ...(options.responders === undefined ? {} : { responders: options.responders }),
  });
  return { director, cloud };
}

const manifest = (instances: number, disk = 1024): TestManifest => ({
  name: 'demo',
  groups: [
    { name: 'db', instances, disk, maxInFlight: 10, containers: [{ name: 'redis', image: 'redis:7' }] },
  ],
});

async function deploy(r: Rig, m: TestManifest): Promise<void> {
  const task = await r.director.deploy({ manifest: manifestText(m) }, 'admin');
  const done = await r.director.tasks.wait(task.id);
  if (done.state !== 'done') throw new Error(`deploy failed: ${done.error}`);
}

async function alerts(r: Rig, category: string): Promise<Alert[]> {
  return (await r.director.listAlerts({ limit: 1000 })).filter((a) => a.category === category);
}

describe('health in the director', () => {
  it('an unresponsive agent: alert, then a resurrection task that fences, recreates and keeps the data', async () => {
    rig = await createRig();
    const r = rig;
    await deploy(r, manifest(2));
    const [before] = await r.director.listInstances('demo');
    if (!before?.vmCid || !before.agentId) throw new Error('no VM');
    const disk = before.diskCids[0] ?? '';
    r.cloud.diskData(disk).set('/var/lib/redis/dump.rdb', 'precious');
    await waitFor(() => r.director.health.monitor.isResponsive(before.agentId ?? ''), 2000, 'heartbeats');

    r.cloud.makeAgentUnresponsive(before.agentId, true);
    await waitFor(async () => (await alerts(r, 'agent_unresponsive')).length > 0, 2000, 'alert');
    await waitFor(async () => (await alerts(r, 'resurrection_succeeded')).length > 0, 5000, 'resurrection');

    const after = (await r.director.listInstances('demo')).find((i) => i.id === before.id);
    expect(after?.vmCid).toBeTruthy();
    expect(after?.vmCid).not.toBe(before.vmCid);
    expect(after?.diskCids).toEqual([disk]);
    const calls = r.cloud.calls;
    const del = calls.findIndex((c) => c.method === 'deleteVm' && c.args[0] === before.vmCid);
    const gone = calls.findIndex((c, i) => i > del && c.method === 'hasVm' && c.args[0] === before.vmCid);
    const create = calls.findIndex((c, i) => i > gone && c.method === 'createVm');
    const attach = calls.findIndex((c, i) => i > create && c.method === 'attachDisk' && c.args[1] === disk);
    expect([del, gone, create, attach].every((x) => x >= 0)).toBe(true);
    expect(del).toBeLessThan(gone);
    expect(gone).toBeLessThan(create);
    expect(create).toBeLessThan(attach);
    expect(calls[attach]?.args[0]).toBe(after?.vmCid);
    const agent = r.cloud.agentOfVm(after?.vmCid ?? '');
    expect(agent?.storeData().get('/var/lib/redis/dump.rdb')).toBe('precious');
    expect((await agent?.getState())?.jobState).toBe('running');

    const tasks = await r.director.listTasks({ deployment: 'demo' });
    const task = tasks.find((t) => t.user === 'health_monitor');
    expect(task?.state).toBe('done');
    expect(task?.description).toMatch(/scan and fix: recreate db\/0/);
    expect(JSON.parse(task?.result ?? '{}')).toMatchObject({
      resurrected: [{ instance: 'db/0', oldVmCid: before.vmCid, newVmCid: after?.vmCid }],
    });
    const events = await r.director.taskEvents(task?.id ?? 0);
    expect(events.map((e) => e.step)).toContain(`Attaching disk ${disk}`);
    // The new agent heartbeats and is healthy; no second resurrection.
    await waitFor(() => r.director.health.monitor.isResponsive(after?.agentId ?? ''), 2000, 'new heartbeats');
    expect(
      (await r.director.listTasks({ deployment: 'demo' })).filter((t) => t.user === 'health_monitor'),
    ).toHaveLength(1);
  });

  it('the resurrector boots the stemcell the instance is deployed with, not a newer upload', async () => {
    rig = await createRig();
    const r = rig;
    await deploy(r, manifest(1));
    const [before] = await r.director.listInstances('demo');
    if (!before?.agentId) throw new Error('no VM');
    await addTestStemcell(r.director, { version: '9.9.9' });
    await waitFor(() => r.director.health.monitor.isResponsive(before.agentId ?? ''), 2000, 'heartbeats');
    const from = r.cloud.calls.length;
    r.cloud.makeAgentUnresponsive(before.agentId, true);
    await waitFor(async () => (await alerts(r, 'resurrection_succeeded')).length > 0, 5000, 'resurrection');
    const created = r.cloud.calls.slice(from).filter((c) => c.method === 'createVm').map((c) => (c.args[0] as { stemcell: string }).stemcell);
    expect(created).toEqual([`sc-test-bosun-debian-12-${TEST_STEMCELL_VERSION}`]);
  });

  it('meltdown: 5 of 10 lost at once → nothing recreated, a severity-1 alert; update-resurrection on resumes', async () => {
    rig = await createRig();
    const r = rig;
    await deploy(r, manifest(10));
    const instances = await r.director.listInstances('demo');
    const creates = r.cloud.callsOf('createVm').length;
    for (const i of instances.slice(0, 5)) r.cloud.loseVm(i.vmCid ?? '');
    await waitFor(async () => (await alerts(r, 'meltdown')).length > 0, 2000, 'meltdown');
    await new Promise((res) => setTimeout(res, 200));
    expect(r.cloud.callsOf('createVm').length).toBe(creates);
    const [m] = await alerts(r, 'meltdown');
    expect(m?.severity).toBe(1);
    expect(m?.deployment).toBe('demo');
    // Alerts are events too (`bosun events`), not only `bosun alerts`.
    const events = await r.director.listEvents({ deployment: 'demo', limit: 1000 });
    expect(events.find((e) => e.action === 'alert' && e.objectName === 'meltdown')?.context).toMatchObject({
      alertId: m?.id,
      severity: 1,
    });

    await r.director.setResurrection(true, undefined, 'admin');
    await waitFor(
      async () => (await alerts(r, 'resurrection_succeeded')).length === 5,
      5000,
      'resurrections',
    );
    for (const i of await r.director.listInstances('demo'))
      expect(await r.cloud.hasVm(i.vmCid ?? '')).toBe(true);
  });

  it('leaves a deployment alone while a task holds its lock, then resurrects', async () => {
    rig = await createRig();
    const r = rig;
    await deploy(r, manifest(1));
    const [inst] = await r.director.listInstances('demo');
    await r.director.store.locks.acquire('deployment:demo', 999_999, 60_000);
    r.cloud.loseVm(inst?.vmCid ?? '');
    await new Promise((res) => setTimeout(res, 300));
    expect(await alerts(r, 'vm_missing')).toHaveLength(0);
    expect((await r.director.listTasks({})).filter((t) => t.user === 'health_monitor')).toHaveLength(0);
    await r.director.store.locks.release('deployment:demo', 999_999);
    await waitFor(async () => (await alerts(r, 'resurrection_succeeded')).length === 1, 3000, 'resurrection');
    expect(await alerts(r, 'vm_missing')).toHaveLength(1);
  });

  it('resurrection off for the deployment: alerts only', async () => {
    rig = await createRig();
    const r = rig;
    await deploy(r, manifest(1));
    await r.director.setResurrection(false, 'demo', 'admin');
    expect((await r.director.getDeployment('demo')).resurrection).toBe(false);
    const [inst] = await r.director.listInstances('demo');
    r.cloud.loseVm(inst?.vmCid ?? '');
    await waitFor(async () => (await alerts(r, 'vm_missing')).length === 1, 2000, 'alert');
    await new Promise((res) => setTimeout(res, 200));
    expect(r.cloud.callsOf('createVm')).toHaveLength(1);
  });

  it('cloud-check through the director: report, fix, second scan 0', async () => {
    rig = await createRig({ start: false });
    const r = rig;
    await deploy(r, manifest(2));
    const [a, b] = await r.director.listInstances('demo');
    r.cloud.loseVm(a?.vmCid ?? '');
    const agentB = r.cloud.agentOfVm(b?.vmCid ?? '');
    await agentB?.unmountDisk(b?.diskCids[0] ?? '');
    const run = async (req: Parameters<Director['cloudCheck']>[1]): Promise<CckResult> => {
      const t = await r.director.tasks.wait((await r.director.cloudCheck('demo', req, 'admin')).id);
      expect(t.error).toBeNull();
      return JSON.parse(t.result ?? '') as CckResult;
    };
    const report = await run({ report: true });
    expect(report.problems.map((p) => `${p.type} ${p.instance}`).sort()).toEqual([
      'missing_vm db/0',
      'mount_info_mismatch db/1',
    ]);
    const fixed = await run({ auto: true });
    expect(fixed.problems.map((p) => p.appliedResolution).sort()).toEqual(['reattach_disk', 'recreate_vm']);
    expect((await run({ report: true })).problems).toEqual([]);
    const vms = await r.director.listVms('demo');
    expect(vms.map((v) => v.vmCid).sort()).toEqual(
      (await r.director.listInstances('demo')).map((i) => i.vmCid).sort(),
    );
  });

  it('sends alerts to a webhook from the config file (local receiver)', async () => {
    const bodies: Array<{ alert: Alert }> = [];
    const srv = createServer((req, res) => {
      let t = '';
      req.on('data', (c: Buffer) => (t += c.toString()));
      req.on('end', () => {
        bodies.push(JSON.parse(t) as { alert: Alert });
        res.end();
      });
    });
    servers.push(srv);
    srv.listen(0, '127.0.0.1');
    await once(srv, 'listening');
    rig = await createRig({
      responders: [
        { type: 'webhook', url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}/`, attempts: 2 },
      ],
    });
    const r = rig;
    await deploy(r, manifest(1));
    await r.director.recordAgentAlert({
      agentId: (await r.director.listInstances('demo'))[0]?.agentId ?? '',
      severity: 3,
      category: 'dockerd_failing',
      title: 'dockerd keeps dying',
      summary: 'restarted 5 times',
      timestamp: new Date().toISOString(),
    });
    await waitFor(() => bodies.length > 0, 10_000, 'webhook');
    expect(bodies[0]?.alert).toMatchObject({
      category: 'dockerd_failing',
      instance: 'db/0',
      deployment: 'demo',
      severity: 3,
    });
  });
});
