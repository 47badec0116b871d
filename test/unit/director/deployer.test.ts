import { afterEach, describe, expect, it } from 'vitest';
import { FakeCloud } from '../../../src/cloud/fake/index.js';
import type { TestDirector, TestManifest } from '../../helpers/director-fixtures.js';
import { cloudCallsSince, createTestDirector, deployAndWait } from '../../helpers/director-fixtures.js';

const redis = { name: 'redis', image: 'redis:7' };
const web = { name: 'web', image: 'demo/web:1' };

function demo(overrides: Partial<TestManifest> = {}, instances = 2): TestManifest {
  return { name: 'demo', groups: [{ name: 'db', instances, disk: 1024, containers: [redis, web] }], ...overrides };
}

describe('deployer', () => {
  let t: TestDirector;
  afterEach(async () => {
    await t.close();
  });

  it('deploys from nothing: creates VMs, disks, attaches, mounts, applies and starts', async () => {
    t = await createTestDirector();
    const task = await deployAndWait(t.director, demo());
    expect(task.error).toBeNull();
    expect(task.state).toBe('done');
    // Exact mutating CPI calls, per instance: createVm, setVmMetadata, createDisk, attachDisk.
    expect(cloudCallsSince(t.cloud, 0)).toEqual([
      'createVm', 'setVmMetadata', 'createDisk', 'attachDisk',
      'createVm', 'setVmMetadata', 'createDisk', 'attachDisk',
    ]);
    // Without asking the agents, the state the deploy observed is shown.
    expect((await t.director.listInstances('demo')).map((i) => i.state)).toEqual(['running', 'running']);
    const instances = await t.director.listInstances('demo', { ps: true });
    expect(instances).toHaveLength(2);
    for (const i of instances) {
      expect(i.state).toBe('running');
      expect(i.diskCids).toHaveLength(1);
      expect(i.containers?.map((c) => c.name)).toEqual(['redis', 'web']);
      const agent = t.cloud.agentOf(i.agentId ?? '');
      expect(agent?.appliedSpec?.instanceId).toBe(i.id);
      expect(agent?.calls.map((c) => c.action)).toContain('mountDisk');
    }
    expect(await t.director.getManifest('demo')).toContain('"db"');
    const events = await t.director.taskEvents(task.id);
    expect(events.some((e) => e.stage === 'Updating instance' && e.step.endsWith('(canary)') && e.state === 'finished')).toBe(true);
  });

  it('redeploying an unchanged manifest makes no mutating cloud call and applies nothing', async () => {
    t = await createTestDirector();
    await deployAndWait(t.director, demo());
    const agents = (await t.director.listInstances('demo')).map((i) => t.cloud.agentOf(i.agentId ?? ''));
    const applies = agents.map((a) => a?.calls.filter((c) => c.action === 'apply').length);
    const from = t.cloud.calls.length;
    const task = await deployAndWait(t.director, demo());
    expect(task.state).toBe('done');
    expect(cloudCallsSince(t.cloud, from, true)).toEqual([]);
    expect(agents.map((a) => a?.calls.filter((c) => c.action === 'apply').length)).toEqual(applies);
    expect(agents.every((a) => a?.calls.every((c) => c.action !== 'start' || true))).toBe(true);
  });

  it('a changed container re-applies every instance of that group only, without cloud mutations', async () => {
    t = await createTestDirector();
    const two: TestManifest = {
      name: 'demo',
      groups: [
        { name: 'db', instances: 1, disk: 512, containers: [redis] },
        { name: 'web', instances: 1, containers: [web] },
      ],
    };
    await deployAndWait(t.director, two);
    const [db, webI] = await t.director.listInstances('demo');
    const dbAgent = t.cloud.agentOf(db?.agentId ?? '');
    const webAgent = t.cloud.agentOf(webI?.agentId ?? '');
    const dbApplies = dbAgent?.calls.filter((c) => c.action === 'apply').length;
    const from = t.cloud.calls.length;
    const changed = structuredClone(two);
    changed.groups[1]!.containers = [{ ...web, image: 'demo/web:2' }];
    const task = await deployAndWait(t.director, changed);
    expect(task.error).toBeNull();
    expect(cloudCallsSince(t.cloud, from)).toEqual([]);
    expect(dbAgent?.calls.filter((c) => c.action === 'apply').length).toBe(dbApplies);
    expect(webAgent?.appliedSpec?.containers[0]?.image).toBe('demo/web:2');
  });

  it('scales up and down; removed instances lose their VM and their disk is orphaned', async () => {
    t = await createTestDirector();
    await deployAndWait(t.director, demo({}, 1));
    expect(await t.director.listInstances('demo')).toHaveLength(1);
    let task = await deployAndWait(t.director, demo({}, 3));
    expect(task.error).toBeNull();
    const three = await t.director.listInstances('demo');
    expect(three.map((i) => i.index)).toEqual([0, 1, 2]);
    const removed = three.filter((i) => i.index > 0);
    task = await deployAndWait(t.director, demo({}, 1));
    expect(task.error).toBeNull();
    expect(await t.director.listInstances('demo')).toHaveLength(1);
    for (const r of removed) expect(await t.cloud.hasVm(r.vmCid ?? '')).toBe(false);
    const orphans = await t.director.listDisks({ orphaned: true });
    expect(orphans.map((d) => d.diskCid).sort()).toEqual(removed.flatMap((r) => r.diskCids).sort());
    for (const d of orphans) expect(await t.cloud.hasDisk(d.diskCid)).toBe(true);
    // The instance that stayed keeps its id.
    expect((await t.director.listInstances('demo'))[0]?.id).toBe(three[0]?.id);
  });

  it('a failing canary stops the deploy, names instance, container and log lines, and leaves the rest untouched', async () => {
    t = await createTestDirector();
    await deployAndWait(t.director, demo({}, 3));
    const before = await t.director.listInstances('demo');
    const applies = before.map((i) => t.cloud.agentOf(i.agentId ?? '')?.calls.filter((c) => c.action === 'apply').length);
    t.cloud.setFailingContainer('broken', true);
    const bad = demo({}, 3);
    bad.groups[0]!.containers = [redis, web, { name: 'broken', image: 'busybox' }];
    const task = await deployAndWait(t.director, bad);
    expect(task.state).toBe('error');
    expect(task.error).toContain(`'db/0 (${before[0]?.id})' is not running after update`);
    expect(task.error).toContain('container "broken" is restarting');
    expect(task.error).toContain('fake log of broken');
    const after = before.map((i) => t.cloud.agentOf(i.agentId ?? '')?.calls.filter((c) => c.action === 'apply').length);
    expect(after).toEqual([(applies[0] ?? 0) + 1, applies[1], applies[2]]);
    // The failed deploy's manifest is not the deployment's manifest.
    expect(await t.director.getManifest('demo')).not.toContain('broken');
  });

  it('respects max_in_flight: never more instances in flight than allowed', async () => {
    t = await createTestDirector();
    const m: TestManifest = { name: 'demo', update: { canaries: 1, maxInFlight: 2 }, groups: [{ name: 'w', instances: 5, containers: [web] }] };
    let inFlight = 0;
    let maxSeen = 0;
    const original = t.cloud.createVm.bind(t.cloud);
    t.cloud.createVm = async (req) => {
      inFlight += 1;
      maxSeen = Math.max(maxSeen, inFlight);
      await new Promise((r) => setTimeout(r, 20));
      try {
        return await original(req);
      } finally {
        inFlight -= 1;
      }
    };
    const task = await deployAndWait(t.director, m);
    expect(task.error).toBeNull();
    expect(maxSeen).toBe(2);
    const events = await t.director.taskEvents(task.id);
    const started = events.filter((e) => e.stage === 'Updating instance' && e.state === 'started').map((e) => e.step);
    expect(started[0]).toContain('(canary)');
    expect(started.filter((s) => s.includes('(canary)'))).toHaveLength(1);
    expect(started).toHaveLength(5);
  });

  it('recreate keeps the disks and deletes the old VM before attaching the disk to the new one', async () => {
    t = await createTestDirector();
    await deployAndWait(t.director, demo({}, 1));
    const [before] = await t.director.listInstances('demo');
    const oldAgent = t.cloud.agentOf(before?.agentId ?? '');
    oldAgent?.storeData().set('k', 'v');
    const from = t.cloud.calls.length;
    const task = await deployAndWait(t.director, demo({}, 1), { recreate: true });
    expect(task.error).toBeNull();
    // No detach before deleteVm: deleting the VM releases its disk; a VM that is not deleted keeps it.
    expect(cloudCallsSince(t.cloud, from)).toEqual(['deleteVm', 'createVm', 'setVmMetadata', 'attachDisk']);
    const [after] = await t.director.listInstances('demo');
    expect(after?.vmCid).not.toBe(before?.vmCid);
    expect(after?.diskCids).toEqual(before?.diskCids);
    expect(after?.id).toBe(before?.id);
    expect(t.cloud.agentOf(after?.agentId ?? '')?.storeData().get('k')).toBe('v');
    const oldAgentCalls = oldAgent?.calls.map((c) => c.action) ?? [];
    expect(oldAgentCalls.slice(-2)).toEqual(['stop', 'unmountDisk']);
  });

  it('a second deploy while one runs fails fast naming the lock holder', async () => {
    t = await createTestDirector();
    t.cloud.pause('createVm');
    const first = await t.director.deploy({ manifest: JSON.stringify(demo({}, 1)) }, 'admin');
    await expect(t.director.deploy({ manifest: JSON.stringify(demo({}, 1)) }, 'admin')).rejects.toThrow(
      `Deployment "demo" is locked by task ${first.id}`,
    );
    expect((await t.director.listLocks()).map((l) => l.taskId)).toEqual([first.id]);
    t.cloud.resume('createVm');
    expect((await t.director.tasks.wait(first.id)).state).toBe('done');
    expect(await t.director.listLocks()).toEqual([]);
  });

  it('cancel stops the deploy at its next step', async () => {
    t = await createTestDirector();
    t.cloud.pause('createVm');
    const task = await t.director.deploy({ manifest: JSON.stringify(demo({}, 3)) }, 'admin');
    await new Promise((r) => setTimeout(r, 30));
    expect((await t.director.cancelTask(task.id, 'admin')).state).toBe('cancelling');
    t.cloud.resume('createVm');
    const ended = await t.director.tasks.wait(task.id);
    expect(ended.state).toBe('cancelled');
    // Only the canary's VM was created; nothing after the cancel.
    expect(t.cloud.callsOf('createVm')).toHaveLength(1);
    expect(t.cloud.callsOf('createDisk')).toHaveLength(0);
  });

  it('an agent that never answers fails with the reason (VM exists) within agent_wait_timeout', async () => {
    const cloud = Object.assign(new FakeCloud({ unresponsiveTimeoutMs: 50, heartbeatIntervalMs: 60_000 }), {
      getVmConsoleLog: async (_vmCid: string, _lines: number) => 'booting\nagent: cannot listen on 10.244.0.2:6868\n',
    });
    t = await createTestDirector({ config: { agentWaitTimeoutMs: 150 }, cloudInstance: cloud });
    const original = t.cloud.createVm.bind(t.cloud);
    t.cloud.createVm = async (req) => {
      const r = await original(req);
      t.cloud.makeAgentUnresponsive(req.agentId, true);
      return r;
    };
    const task = await deployAndWait(t.director, demo({}, 1));
    expect(task.state).toBe('error');
    expect(task.error).toMatch(/did not answer within 0.15 s/);
    expect(task.error).toContain('The cloud reports the VM as existing');
    expect(task.error).toContain("Last lines of the VM's boot log:\nbooting\nagent: cannot listen on 10.244.0.2:6868");
  });

  it('dry run creates no task; diff shows changes', async () => {
    t = await createTestDirector();
    await expect(t.director.deploy({ manifest: JSON.stringify(demo()), dryRun: true }, 'admin')).rejects.toThrow(/dry run/);
    const diff = await t.director.diff({ manifest: JSON.stringify(demo()) });
    expect(diff.changes.map((c) => c.kind)).toEqual(['create_vm']);
    expect(await t.director.listTasks({})).toEqual([]);
  });

  it('updates consecutive serial:false groups in parallel, serial groups alone', async () => {
    t = await createTestDirector();
    const m: TestManifest = {
      name: 'demo',
      groups: [
        { name: 'a', instances: 1, containers: [web], serial: false },
        { name: 'b', instances: 1, containers: [web], serial: false },
        { name: 'c', instances: 1, containers: [web] },
      ],
    };
    t.cloud.pause('createVm');
    const task = await t.director.deploy({ manifest: JSON.stringify(m) }, 'admin');
    for (let i = 0; i < 100 && t.cloud.callsOf('createVm').length < 2; i++) await new Promise((r) => setTimeout(r, 5));
    // a and b both wait in createVm at the same time; c has not started.
    expect(t.cloud.callsOf('createVm')).toHaveLength(2);
    t.cloud.resume('createVm');
    expect((await t.director.tasks.wait(task.id)).error).toBeNull();
    expect(t.cloud.callsOf('createVm')).toHaveLength(3);
  });

  it('a redeploy replaces a VM the cloud lost and re-attaches its disk with the data', async () => {
    t = await createTestDirector();
    await deployAndWait(t.director, demo({}, 1));
    const [before] = await t.director.listInstances('demo');
    t.cloud.agentOf(before?.agentId ?? '')?.storeData().set('k', 'kept');
    t.cloud.loseVm(before?.vmCid ?? '');
    const task = await deployAndWait(t.director, demo({}, 1));
    expect(task.error).toBeNull();
    const [after] = await t.director.listInstances('demo', { ps: true });
    expect(after?.vmCid).not.toBe(before?.vmCid);
    expect(after?.diskCids).toEqual(before?.diskCids);
    expect(after?.state).toBe('running');
    expect(t.cloud.agentOf(after?.agentId ?? '')?.storeData().get('k')).toBe('kept');
  });
});
