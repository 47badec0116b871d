/**
 * Resurrector robustness: never-deployed deployments are left alone, failed resurrections back
 * off, an instance left without a VM is resurrected, and the meltdown stop survives a restart.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { FakeCloud } from '../../../../src/cloud/fake/index.js';
import type { Director } from '../../../../src/director/director.js';
import { manifestText, type TestManifest } from '../../../helpers/director-fixtures.js';
import { createHealthDirector, heartbeatingCloud, type HeartbeatTarget } from './health-director.js';
import { alertsOf, buildRig, deployFake, waitFor, type HealthRig } from './health-kit.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function rigFor(options: Parameters<typeof buildRig>[0] = {}): HealthRig {
  const r = buildRig(options);
  cleanups.push(() => r.close());
  return r;
}

const manifest = (instances: number): TestManifest => ({
  name: 'demo',
  groups: [{ name: 'db', instances, disk: 1024, maxInFlight: 10, containers: [{ name: 'redis', image: 'redis:7' }] }],
});

/** The director the tests drive the analyses of themselves (no monitor loop). */
function createDirector(cloud: FakeCloud, target: HeartbeatTarget, databasePath: string): Promise<Director> {
  return createHealthDirector(cloud, target, { databasePath, startHealthMonitor: false });
}

function fakeCloud(target: HeartbeatTarget): FakeCloud {
  const cloud = heartbeatingCloud(target);
  cleanups.push(() => cloud.shutdown());
  return cloud;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('resurrection robustness', () => {
  it('never resurrects a deployment whose first deploy failed: one alert, no task', async () => {
    const target: HeartbeatTarget = {};
    const cloud = fakeCloud(target);
    const director = await createDirector(cloud, target, ':memory:');
    cleanups.push(() => director.close());
    cloud.setFailingContainer('redis', true);
    const task = await director.deploy({ manifest: manifestText(manifest(2)) }, 'admin');
    expect((await director.tasks.wait(task.id)).state).toBe('error');
    const instances = await director.listInstances('demo');
    expect(instances).toHaveLength(2);
    for (const i of instances) if (i.vmCid) cloud.loseVm(i.vmCid);

    for (let k = 0; k < 5; k++) {
      await director.health.monitor.analyze();
      await director.health.resurrector.idle();
    }
    const all = await director.listAlerts({ limit: 1000 });
    // The canary that got a VM is seen as unhealthy; db/1 was never created, so it raises nothing …
    expect(all.filter((a) => a.category === 'vm_missing' || a.category === 'instance_without_vm').map((a) => a.instance)).toEqual(['db/0']);
    // … but nothing is resurrected, and the operator is told once.
    expect((await director.listTasks({ deployment: 'demo' })).filter((t) => t.user === 'health_monitor')).toEqual([]);
    const skipped = all.filter((a) => a.category === 'resurrection_skipped');
    expect(skipped).toHaveLength(1);
    expect(skipped[0]?.summary).toMatch(/never been deployed successfully/);
    expect(all.filter((a) => a.category === 'resurrection_failed')).toEqual([]);
  });

  it('a failed canary leaves the other instances "not yet created": no alert, no resurrection for them', async () => {
    const target: HeartbeatTarget = {};
    const cloud = fakeCloud(target);
    const director = await createDirector(cloud, target, ':memory:');
    cleanups.push(() => director.close());
    await director.tasks.wait((await director.deploy({ manifest: manifestText(manifest(1)) }, 'admin')).id);
    // A second deploy adds two instances; its canary fails, so db/2 is never created.
    cloud.setFailingContainer('redis', true);
    const task = await director.deploy({ manifest: manifestText({ ...manifest(3), update: { canaries: 1, maxInFlight: 1 } }) }, 'admin');
    expect((await director.tasks.wait(task.id)).state).toBe('error');
    const states = Object.fromEntries((await director.listInstances('demo')).map((i) => [`${i.group}/${i.index}`, i.state]));
    expect(states['db/2']).toBe('not_created');

    for (let k = 0; k < 3; k++) {
      await director.health.monitor.analyze();
      await director.health.resurrector.idle();
    }
    const all = await director.listAlerts({ limit: 1000 });
    expect(all.filter((a) => a.instance === 'db/2')).toEqual([]);
    expect(all.filter((a) => a.category === 'instance_without_vm')).toEqual([]);
    expect(all.filter((a) => a.category === 'resurrection_skipped' && /db\/2/.test(a.summary))).toEqual([]);
    expect((await director.listTasks({ deployment: 'demo' })).filter((t) => t.user === 'health_monitor')).toEqual([]);
  });

  it('backs off after a failed resurrection (no tight loop) and resets when the operator deploys', async () => {
    let now = 1_000_000;
    const rig = rigFor({ resurrector: { retryIntervalMs: 100 }, resurrectorClock: () => now });
    const [inst] = await deployFake(rig.cloud, rig.store, { count: 3 });
    if (!inst?.vmCid) throw new Error('no VM');
    rig.store.byName('db/0').deployedAt = '2026-01-01T00:00:00.000Z';
    rig.cloud.fail('createVm', { always: true });
    rig.cloud.loseVm(inst.vmCid);
    const round = async (): Promise<void> => {
      await rig.monitor.analyze();
      await rig.resurrector.idle();
    };

    await round();
    expect(rig.tasks.tasks.map((t) => t.state)).toEqual(['error']);
    // The old VM is gone, the new one was never created: the instance has no VM now.
    expect(rig.store.byName('db/0').vmCid).toBeNull();
    for (let k = 0; k < 5; k++) await round();
    expect(rig.tasks.tasks).toHaveLength(1);
    now += 100;
    await round();
    expect(rig.tasks.tasks).toHaveLength(2);
    now += 150; // the delay doubled to 200 ms
    await round();
    expect(rig.tasks.tasks).toHaveLength(2);
    now += 50;
    await round();
    expect(rig.tasks.tasks).toHaveLength(3);
    const failed = alertsOf(rig.store, 'resurrection_failed');
    expect(failed).toHaveLength(3);
    expect(failed[0]?.severity).toBe(2);

    // The operator fixed the cloud and deployed: the backoff (now 400 ms) is forgotten at once.
    rig.cloud.clearFailures();
    rig.store.byName('db/0').deployedAt = '2026-01-02T00:00:00.000Z';
    now += 1;
    await round();
    expect(rig.tasks.tasks).toHaveLength(4);
    expect(rig.tasks.tasks[3]?.state).toBe('done');
    expect(alertsOf(rig.store, 'resurrection_succeeded')).toHaveLength(1);
  });

  it('resurrects an instance left without a VM (crash between deleteVm and createVm), disks re-attached', async () => {
    const rig = rigFor();
    const [inst, other] = await deployFake(rig.cloud, rig.store, { count: 2, disks: 2 });
    if (!inst?.vmCid || !other?.vmCid) throw new Error('no VM');
    const cids = inst.disks.map((d) => d.diskCid);
    cids.forEach((c, k) => rig.cloud.diskData(c).set('n', String(k)));
    // What a director that died mid-recreate leaves: the VM deleted, the store without a VM.
    await rig.cloud.deleteVm(inst.vmCid);
    await rig.store.setInstanceVm(inst.id, null);
    // A stopped instance in the same state gets its VM back too, its containers stay stopped.
    await rig.cloud.deleteVm(other.vmCid);
    await rig.store.setInstanceVm(other.id, null);
    rig.store.byName('db/1').desired = 'stopped';

    rig.monitor.start();
    await waitFor(() => alertsOf(rig.store, 'resurrection_succeeded').length === 2, 5000, 'resurrections');
    expect(alertsOf(rig.store, 'instance_without_vm')).toHaveLength(2);
    const now = rig.store.byName('db/0');
    expect(now.vmCid).not.toBeNull();
    expect(await rig.cloud.hasVm(now.vmCid ?? '')).toBe(true);
    expect(await rig.cloud.getDisks(now.vmCid ?? '')).toEqual([...cids].sort());
    const agent = rig.cloud.agentOfVm(now.vmCid ?? '');
    expect(await agent?.listDisk()).toEqual([...cids].sort());
    cids.forEach((c, k) => expect(rig.cloud.diskData(c).get('n')).toBe(String(k)));
    expect((await agent?.getState())?.jobState).toBe('running');

    const stopped = rig.store.byName('db/1');
    expect(stopped.vmCid).not.toBeNull();
    const stoppedAgent = rig.cloud.agentOfVm(stopped.vmCid ?? '');
    expect(stoppedAgent?.appliedSpec?.instanceId).toBe(other.id);
    expect((await stoppedAgent?.getState())?.jobState).not.toBe('running');
    expect(rig.tasks.tasks.every((t) => t.state === 'done')).toBe(true);
  });

  it('the meltdown stop survives a director restart; update-resurrection on lifts it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bosun-meltdown-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const databasePath = join(dir, 'director.sqlite');
    const target: HeartbeatTarget = {};
    const cloud = fakeCloud(target);
    const first = await createDirector(cloud, target, databasePath);
    let firstOpen = true;
    cleanups.push(async () => {
      if (firstOpen) await first.close();
    });
    const task = await first.deploy({ manifest: manifestText(manifest(10)) }, 'admin');
    expect((await first.tasks.wait(task.id)).state).toBe('done');
    const instances = await first.listInstances('demo');
    const agents = instances.map((i) => i.agentId ?? '');
    await waitFor(() => agents.every((a) => first.health.monitor.isResponsive(a)), 2000, 'heartbeats');

    // 5 of 10 agents go silent at once: meltdown.
    for (const a of agents.slice(0, 5)) cloud.makeAgentUnresponsive(a, true);
    await sleep(450);
    await first.health.monitor.analyze();
    await first.health.resurrector.idle();
    expect((await first.listAlerts({ limit: 1000 })).filter((a) => a.category === 'meltdown')).toHaveLength(1);
    // 4 of them come back; one stays silent — alone, below the meltdown limits.
    for (const a of agents.slice(1, 5)) cloud.makeAgentUnresponsive(a, false);
    await first.close();
    firstOpen = false;

    const creates = cloud.callsOf('createVm').length;
    const second = await createDirector(cloud, target, databasePath);
    cleanups.push(() => second.close());
    await second.health.monitor.analyze(); // every agent gets one timeout of grace
    await sleep(450);
    for (let k = 0; k < 3; k++) {
      await second.health.monitor.analyze();
      await second.health.resurrector.idle();
    }
    // The silent agent is seen …
    const unresponsive = (await second.listAlerts({ limit: 1000 })).filter(
      (a) => a.category === 'agent_unresponsive' && a.instance === 'db/0',
    );
    expect(unresponsive.length).toBeGreaterThanOrEqual(2);
    // … but the restarted director does not resume resurrection on its own.
    expect((await second.listTasks({ deployment: 'demo' })).filter((t) => t.user === 'health_monitor')).toEqual([]);
    expect(cloud.callsOf('createVm')).toHaveLength(creates);

    await second.setResurrection(true, undefined, 'admin');
    expect(await second.store.resurrectionStops.list()).toEqual({});
    await second.health.monitor.analyze();
    await second.health.resurrector.idle();
    const tasks = (await second.listTasks({ deployment: 'demo' })).filter((t) => t.user === 'health_monitor');
    expect(tasks.map((t) => t.state)).toEqual(['done']);
    const db0 = (await second.listInstances('demo')).find((i) => i.group === 'db' && i.index === 0);
    expect(db0?.vmCid).not.toBe(instances[0]?.vmCid);
    expect(cloud.callsOf('createVm')).toHaveLength(creates + 1);
  });
});
