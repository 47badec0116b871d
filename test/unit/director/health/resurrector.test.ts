import { afterEach, describe, expect, it } from 'vitest';
import { alertsOf, buildRig, deployFake, waitFor, type HealthRig } from './health-kit.js';

let rig: HealthRig | undefined;
afterEach(async () => {
  await rig?.close();
  rig = undefined;
});

/** Index of the first call of `method` whose first argument is `arg`, from `from` on. */
function callIndex(r: HealthRig, method: string, arg: unknown, from = 0): number {
  return r.cloud.calls.findIndex((c, i) => i >= from && c.method === method && c.args[0] === arg);
}

describe('resurrector', () => {
  it('replaces the VM of an unresponsive agent: alert, delete + fence, create, attach, data intact', async () => {
    rig = buildRig();
    const [inst] = await deployFake(rig.cloud, rig.store, { count: 2 });
    if (!inst?.vmCid || !inst.agentId) throw new Error('deploy failed');
    const oldVm = inst.vmCid;
    const disk = inst.disks[0]?.diskCid ?? '';
    rig.cloud.diskData(disk).set('answer', '42');
    rig.monitor.start();
    await waitFor(() => rig?.monitor.isResponsive(inst.agentId ?? '') ?? false, 2000, 'first heartbeat');

    const lostAt = Date.now();
    rig.cloud.makeAgentUnresponsive(inst.agentId, true);
    await waitFor(() => alertsOf(rig!.store, 'agent_unresponsive').length > 0, 2000, 'unresponsive alert');
    const alertDelay = Date.now() - lostAt;
    expect(alertDelay).toBeLessThan(200 + 200); // agentTimeout + a few analysis/heartbeat periods

    await waitFor(() => alertsOf(rig!.store, 'resurrection_succeeded').length > 0, 5000, 'resurrection');
    const now = rig.store.byName('db/0');
    expect(now.vmCid).not.toBeNull();
    expect(now.vmCid).not.toBe(oldVm);

    // Fencing: deleteVm(old) and a hasVm(old) answering false come before the disk is attached anywhere new.
    const del = callIndex(rig, 'deleteVm', oldVm);
    const create = rig.cloud.calls.findIndex((c, i) => i > del && c.method === 'createVm');
    const attach = rig.cloud.calls.findIndex(
      (c, i) => i > create && c.method === 'attachDisk' && c.args[1] === disk,
    );
    const fenced = rig.cloud.calls.findIndex(
      (c, i) => i > del && i < create && c.method === 'hasVm' && c.args[0] === oldVm,
    );
    expect(del).toBeGreaterThanOrEqual(0);
    expect(fenced).toBeGreaterThan(del);
    expect(create).toBeGreaterThan(fenced);
    expect(attach).toBeGreaterThan(create);
    expect(rig.cloud.calls[attach]?.args[0]).toBe(now.vmCid);

    const agent = rig.cloud.agentOfVm(now.vmCid ?? '');
    expect(agent?.storeData().get('answer')).toBe('42');
    expect(agent?.appliedSpec?.instanceId).toBe(inst.id);
    expect((await agent?.getState())?.jobState).toBe('running');
    const task = rig.tasks.tasks[0];
    expect(task?.state).toBe('done');
    expect(task?.user).toBe('health_monitor');
    // The other instance was left alone.
    expect(rig.tasks.tasks).toHaveLength(1);
  });

  it('recreates a missing VM', async () => {
    rig = buildRig();
    const [inst] = await deployFake(rig.cloud, rig.store, { count: 1 });
    rig.cloud.loseVm(inst?.vmCid ?? '');
    rig.monitor.start();
    await waitFor(() => alertsOf(rig!.store, 'resurrection_succeeded').length > 0, 3000, 'resurrection');
    expect(alertsOf(rig.store, 'vm_missing')).toHaveLength(1);
    const now = rig.store.byName('db/0');
    expect(now.vmCid).not.toBe(inst?.vmCid);
    expect(await rig.cloud.hasVm(now.vmCid ?? '')).toBe(true);
  });

  it('re-attaches and mounts every disk of an instance with several disks', async () => {
    rig = buildRig();
    const [inst] = await deployFake(rig.cloud, rig.store, { count: 1, disks: 3 });
    const cids = inst?.disks.map((d) => d.diskCid) ?? [];
    cids.forEach((c, k) => rig!.cloud.diskData(c).set('n', String(k)));
    rig.cloud.loseVm(inst?.vmCid ?? '');
    rig.monitor.start();
    await waitFor(() => alertsOf(rig!.store, 'resurrection_succeeded').length > 0, 3000, 'resurrection');
    const vm = rig.store.byName('db/0').vmCid ?? '';
    expect(await rig.cloud.getDisks(vm)).toEqual([...cids].sort());
    expect(await rig.cloud.agentOfVm(vm)?.listDisk()).toEqual([...cids].sort());
    cids.forEach((c, k) => expect(rig!.cloud.diskData(c).get('n')).toBe(String(k)));
  });

  it('a failed disk attach is a failed resurrection, never healthy', async () => {
    rig = buildRig();
    const [inst] = await deployFake(rig.cloud, rig.store, { count: 1, disks: 2 });
    rig.cloud.fail('attachDisk', { always: true });
    rig.cloud.loseVm(inst?.vmCid ?? '');
    rig.monitor.start();
    await waitFor(() => alertsOf(rig!.store, 'resurrection_failed').length > 0, 3000, 'failure alert');
    await rig.resurrector.idle();
    expect(alertsOf(rig.store, 'resurrection_succeeded')).toHaveLength(0);
    const failed = alertsOf(rig.store, 'resurrection_failed')[0];
    expect(failed?.severity).toBe(2);
    expect(failed?.summary).toMatch(/attachDisk/);
    expect(rig.tasks.tasks[0]?.state).toBe('error');
    // Retried only after the backoff (60 s here), not in a tight loop.
    await new Promise((r) => setTimeout(r, 200));
    expect(rig.tasks.tasks).toHaveLength(1);
  });

  it('meltdown: losing 5 of 10 at once resurrects nothing and raises a severity-1 alert until reset', async () => {
    rig = buildRig();
    const insts = await deployFake(rig.cloud, rig.store, { count: 10 });
    const lost = insts.slice(0, 5);
    for (const i of lost) rig.cloud.loseVm(i.vmCid ?? '');
    const createsBefore = rig.cloud.callsOf('createVm').length;
    rig.monitor.start();
    await waitFor(() => alertsOf(rig!.store, 'meltdown').length > 0, 2000, 'meltdown alert');
    await new Promise((r) => setTimeout(r, 200));
    expect(rig.cloud.callsOf('createVm').length).toBe(createsBefore);
    expect(rig.tasks.tasks).toHaveLength(0);
    const m = alertsOf(rig.store, 'meltdown');
    expect(m).toHaveLength(1);
    expect(m[0]?.severity).toBe(1);
    expect(m[0]?.summary).toMatch(/update-resurrection on/);

    // The operator fixed the cause and turns resurrection back on.
    await rig.resurrector.operatorReset('demo');
    await waitFor(
      () => alertsOf(rig!.store, 'resurrection_succeeded').length === 5,
      5000,
      'resurrection after reset',
    );
    for (const i of lost) expect(rig.store.byName(`db/${i.index}`).vmCid).not.toBe(i.vmCid);
  });

  it('below the meltdown thresholds (4 of 10) it resurrects', async () => {
    rig = buildRig();
    const insts = await deployFake(rig.cloud, rig.store, { count: 10 });
    for (const i of insts.slice(0, 4)) rig.cloud.loseVm(i.vmCid ?? '');
    rig.monitor.start();
    await waitFor(() => alertsOf(rig!.store, 'resurrection_succeeded').length === 4, 5000, 'resurrections');
    expect(alertsOf(rig.store, 'meltdown')).toHaveLength(0);
  });

  it('skips a deployment a task holds locked, and one with resurrection off', async () => {
    rig = buildRig();
    await deployFake(rig.cloud, rig.store, { count: 1, deployment: 'locked' });
    const [off] = await deployFake(rig.cloud, rig.store, { count: 1, deployment: 'off' });
    rig.store.deployments.off = false;
    rig.tasks.locked.add('locked');
    for (const i of rig.store.instances.values()) rig.cloud.loseVm(i.vmCid ?? '');
    for (let k = 0; k < 5; k++) await rig.monitor.analyze();
    expect(rig.tasks.tasks).toHaveLength(0);
    // The locked deployment is not even looked at; the disabled one still alerts.
    expect(alertsOf(rig.store, 'vm_missing').map((a) => a.deployment)).toEqual(['off']);
    expect(rig.store.byName('db/0').vmCid).toBeDefined();
    expect(off).toBeDefined();

    rig.tasks.locked.delete('locked');
    await rig.monitor.analyze();
    await rig.resurrector.idle();
    expect(rig.tasks.tasks.map((t) => t.deployment)).toEqual(['locked']);
    expect(rig.tasks.tasks[0]?.state).toBe('done');
  });
});
