import { afterEach, describe, expect, it } from 'vitest';
import type { TestDirector, TestManifest } from '../../helpers/director-fixtures.js';
import { cloudCallsSince, createTestDirector, deployAndWait } from '../../helpers/director-fixtures.js';

const m: TestManifest = { name: 'demo', groups: [{ name: 'db', instances: 2, disk: 256, containers: [{ name: 'redis', image: 'redis:7' }] }] };

describe('instance jobs and deployment deletion', () => {
  let t: TestDirector;
  afterEach(async () => {
    await t.close();
  });

  it('stop keeps an instance stopped across redeploys until start', async () => {
    t = await createTestDirector();
    await deployAndWait(t.director, m);
    let task = await t.director.runJob('demo', { action: 'stop', group: 'db', index: 1 }, 'admin');
    expect((await t.director.tasks.wait(task.id)).state).toBe('done');
    let instances = await t.director.listInstances('demo', { ps: true });
    expect(instances.map((i) => [i.desired, i.state])).toEqual([
      ['started', 'running'],
      ['stopped', 'stopped'],
    ]);
    // An unchanged redeploy leaves the stopped instance stopped (and untouched).
    const from = t.cloud.calls.length;
    expect((await deployAndWait(t.director, m)).state).toBe('done');
    expect(cloudCallsSince(t.cloud, from, true)).toEqual([]);
    expect((await t.director.listInstances('demo', { ps: true }))[1]?.state).toBe('stopped');

    task = await t.director.runJob('demo', { action: 'start', group: 'db', index: 1 }, 'admin');
    expect((await t.director.tasks.wait(task.id)).error).toBeNull();
    instances = await t.director.listInstances('demo', { ps: true });
    expect(instances.map((i) => [i.desired, i.state])).toEqual([
      ['started', 'running'],
      ['started', 'running'],
    ]);
  });

  it('restart stops and starts every instance without touching the cloud', async () => {
    t = await createTestDirector();
    await deployAndWait(t.director, m);
    const from = t.cloud.calls.length;
    const task = await t.director.runJob('demo', { action: 'restart' }, 'admin');
    expect((await t.director.tasks.wait(task.id)).error).toBeNull();
    expect(cloudCallsSince(t.cloud, from)).toEqual([]);
    for (const i of await t.director.listInstances('demo')) {
      const actions = t.cloud.agentOf(i.agentId ?? '')?.calls.map((c) => c.action) ?? [];
      expect(actions.lastIndexOf('stop')).toBeLessThan(actions.lastIndexOf('start'));
      expect(actions.lastIndexOf('stop')).toBeGreaterThan(-1);
    }
  });

  it('recreate of one instance replaces only its VM and keeps its disk', async () => {
    t = await createTestDirector();
    await deployAndWait(t.director, m);
    const before = await t.director.listInstances('demo');
    const task = await t.director.runJob('demo', { action: 'recreate', group: 'db', index: 0 }, 'admin');
    expect((await t.director.tasks.wait(task.id)).error).toBeNull();
    const after = await t.director.listInstances('demo');
    expect(after[0]?.vmCid).not.toBe(before[0]?.vmCid);
    expect(after[0]?.diskCids).toEqual(before[0]?.diskCids);
    expect(after[1]?.vmCid).toBe(before[1]?.vmCid);
  });

  it('rejects unknown instances before creating a task', async () => {
    t = await createTestDirector();
    await deployAndWait(t.director, m);
    await expect(t.director.runJob('demo', { action: 'stop', group: 'nope' }, 'admin')).rejects.toThrow(/has no instance nope/);
    await expect(t.director.runJob('other', { action: 'stop' }, 'admin')).rejects.toThrow(/has not been deployed/);
  });

  it('delete-deployment deletes every VM, orphans every disk and forgets the deployment', async () => {
    t = await createTestDirector();
    await deployAndWait(t.director, m);
    const instances = await t.director.listInstances('demo');
    const task = await t.director.deleteDeployment('demo', 'admin');
    expect((await t.director.tasks.wait(task.id)).error).toBeNull();
    for (const i of instances) expect(await t.cloud.hasVm(i.vmCid ?? '')).toBe(false);
    expect(t.cloud.vmCount).toBe(0);
    const orphans = await t.director.listDisks({ orphaned: true });
    expect(orphans).toHaveLength(2);
    expect(orphans.every((d) => d.deployment === 'demo' && d.instance === null)).toBe(true);
    await expect(t.director.getDeployment('demo')).rejects.toThrow(/does not exist/);

    // An orphaned disk can then be deleted for good.
    const del = await t.director.deleteDisk(orphans[0]?.diskCid ?? '', 'admin');
    expect((await t.director.tasks.wait(del.id)).error).toBeNull();
    expect(await t.cloud.hasDisk(orphans[0]?.diskCid ?? '')).toBe(false);
    expect(await t.director.listDisks({ orphaned: true })).toHaveLength(1);
  });

  it('delete --force gets past an unresponsive agent', async () => {
    t = await createTestDirector();
    await deployAndWait(t.director, m);
    const [first] = await t.director.listInstances('demo');
    t.cloud.makeAgentUnresponsive(first?.agentId ?? '', true);
    const task = await t.director.deleteDeployment('demo', 'admin', { force: true });
    expect((await t.director.tasks.wait(task.id)).error).toBeNull();
    expect(t.cloud.vmCount).toBe(0);
  });

  it('ps reports an unresponsive agent instead of failing', async () => {
    t = await createTestDirector();
    await deployAndWait(t.director, m);
    const [first] = await t.director.listInstances('demo');
    t.cloud.makeAgentUnresponsive(first?.agentId ?? '', true);
    const ps = await t.director.listInstances('demo', { ps: true });
    expect(ps.map((i) => i.state)).toEqual(['unresponsive', 'running']);
    expect(ps[1]?.containers?.[0]?.name).toBe('redis');
  });
});

describe('delete-deployment --force keeps fencing', () => {
  let t: TestDirector;
  afterEach(async () => {
    await t.close();
  });

  it('a VM that cannot be deleted keeps its disk attached and recorded; the task says what is left and how to finish', async () => {
    t = await createTestDirector();
    await deployAndWait(t.director, m);
    const [first, second] = await t.director.listInstances('demo');
    const stuckVm = first?.vmCid ?? '';
    const stuckDisk = first?.diskCids[0] ?? '';
    // The cloud refuses to delete db/0's VM; db/1's goes as usual.
    const deleteVm = t.cloud.deleteVm.bind(t.cloud);
    t.cloud.deleteVm = (cid) => (cid === stuckVm ? Promise.reject(new Error('the IaaS API is down')) : deleteVm(cid));

    const task = await t.director.deleteDeployment('demo', 'admin', { force: true });
    const done = await t.director.tasks.wait(task.id);
    expect(done.state).toBe('error');
    expect(done.error).toMatch(/db\/0: VM .* could not be deleted .*the IaaS API is down/);
    expect(done.error).toContain(`${stuckDisk} stay attached`);
    expect(done.error).toMatch(/run "bosun -d demo delete-deployment" again/);

    // Fencing: the disk is still attached to the VM that may still run, and still the instance's.
    expect(await t.cloud.hasVm(stuckVm)).toBe(true);
    expect(await t.cloud.getDisks(stuckVm)).toEqual([stuckDisk]);
    expect((await t.director.listDisks({ orphaned: true })).map((d) => d.diskCid)).not.toContain(stuckDisk);
    const left = await t.director.listInstances('demo');
    expect(left.map((i) => [i.group, i.index, i.vmCid, i.diskCids])).toEqual([['db', 0, stuckVm, [stuckDisk]]]);
    expect((await t.director.getDeployment('demo')).resurrection).toBe(false);
    // db/1 is gone and its disk orphaned, as without --force.
    expect(await t.cloud.hasVm(second?.vmCid ?? '')).toBe(false);
    expect((await t.director.listDisks({ orphaned: true })).map((d) => d.diskCid)).toEqual([second?.diskCids[0]]);

    // Once the cloud works again, running the command again finishes.
    t.cloud.deleteVm = deleteVm;
    const again = await t.director.tasks.wait((await t.director.deleteDeployment('demo', 'admin', { force: true })).id);
    expect(again.error).toBeNull();
    expect(t.cloud.vmCount).toBe(0);
    expect(await t.director.listDisks({ orphaned: true })).toHaveLength(2);
  });
});
