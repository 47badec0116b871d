/**
 * Data safety of the director's disk paths over the fake cloud: a disk still mounted is never
 * detached (only deleting its VM releases it), the agent is told a disk is new only the first time,
 * a copy the director gives up on has stopped on the agent before the rollback, and a failed grow
 * says what is true afterwards.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { FakeAgent } from '../../../src/cloud/fake/fake-agent.js';
import type { FakeCloud } from '../../../src/cloud/fake/index.js';
import { CloudError } from '../../../src/cloud/cloud.js';
import type { MountDiskRequest } from '../../../src/common/contracts/agent-protocol.js';
import { CancelledError } from '../../../src/common/errors.js';
import { silentLogger } from '../../../src/common/logger.js';
import type { TaskContext } from '../../../src/director/tasks/task-context.js';
import { resizePersistentDisk } from '../../../src/director/disks/disk-resize.js';
import type { Store } from '../../../src/store/store.js';
import { createResizeFixture, type ResizeFixture } from '../../helpers/resize-fixture.js';
import type { TestDirector, TestManifest } from '../../helpers/director-fixtures.js';
import { createTestDirector, deployAndWait } from '../../helpers/director-fixtures.js';

const demo = (disk: number): TestManifest => ({
  name: 'demo',
  groups: [{ name: 'db', instances: 1, disk, containers: [{ name: 'redis', image: 'redis:7' }] }],
});

async function only(t: TestDirector): Promise<{ agent: FakeAgent; vmCid: string; diskCid: string; instanceId: string }> {
  const [i] = await t.director.listInstances('demo');
  const agent = t.cloud.agentOf(i?.agentId ?? '');
  if (!i || !agent || !i.vmCid) throw new Error('no instance');
  return { agent, vmCid: i.vmCid, diskCid: i.diskCids[0] ?? '', instanceId: i.id };
}

const mountRequests = (agent: FakeAgent): MountDiskRequest[] =>
  agent.calls.filter((c) => c.action === 'mountDisk').map((c) => c.args[0] as MountDiskRequest);

describe('disks are never detached while mounted (fake cloud)', () => {
  let t: TestDirector;
  afterEach(async () => {
    await t.close();
  });

  it('removing the persistent disk while containers hold the store stops the task; the disk stays mounted, attached and active', async () => {
    t = await createTestDirector();
    expect((await deployAndWait(t.director, demo(512))).error).toBeNull();
    const before = await only(t);
    before.agent.storeHolders = ['redis'];
    const task = await deployAndWait(t.director, demo(0));
    expect(task.state).toBe('error');
    expect(task.error).toMatch(/did not unmount it .*"redis"/);
    expect(await t.cloud.getDisks(before.vmCid)).toEqual([before.diskCid]);
    expect(await before.agent.listDisk()).toEqual([before.diskCid]);
    expect(await t.director.listDisks({ orphaned: true })).toEqual([]);
  });

  it('removing the persistent disk stops the containers, unmounts, detaches and orphans it', async () => {
    t = await createTestDirector();
    expect((await deployAndWait(t.director, demo(512))).error).toBeNull();
    const before = await only(t);
    const from = before.agent.calls.length;
    expect((await deployAndWait(t.director, demo(0))).error).toBeNull();
    const actions = before.agent.calls.slice(from).map((c) => c.action);
    expect(actions.indexOf('stop')).toBeLessThan(actions.indexOf('unmountDisk'));
    expect(await t.cloud.getDisks(before.vmCid)).toEqual([]);
    expect((await t.director.listDisks({ orphaned: true })).map((d) => d.diskCid)).toEqual([before.diskCid]);
    expect((await before.agent.getState()).jobState).toBe('running');
  });

  it('deleting a VM whose agent refuses the unmount detaches the disk only after deleteVm', async () => {
    t = await createTestDirector();
    expect((await deployAndWait(t.director, demo(512))).error).toBeNull();
    const before = await only(t);
    before.agent.storeHolders = ['redis'];
    const from = t.cloud.calls.length;
    const task = await t.director.deleteDeployment('demo', 'admin');
    expect((await t.director.tasks.wait(task.id)).error).toBeNull();
    const calls = t.cloud.calls.slice(from).map((c) => c.method);
    const deleteVm = calls.indexOf('deleteVm');
    expect(deleteVm).toBeGreaterThanOrEqual(0);
    expect(calls.slice(0, deleteVm)).not.toContain('detachDisk');
    expect(await t.cloud.hasDisk(before.diskCid)).toBe(true);
  });
});

describe('the agent is told a disk is new only before it was ever mounted', () => {
  let t: TestDirector;
  afterEach(async () => {
    await t.close();
  });

  it('first mount: newDisk; after a recreate the same disk is mounted without it', async () => {
    t = await createTestDirector();
    expect((await deployAndWait(t.director, demo(512))).error).toBeNull();
    const first = await only(t);
    expect(mountRequests(first.agent).map((r) => r.newDisk)).toEqual([true]);
    expect((await t.director.store.disks.get(first.diskCid))?.mountedBefore).toBe(true);
    expect((await deployAndWait(t.director, demo(512), { recreate: true })).error).toBeNull();
    const second = await only(t);
    expect(second.vmCid).not.toBe(first.vmCid);
    expect(second.diskCid).toBe(first.diskCid);
    expect(mountRequests(second.agent).map((r) => r.newDisk)).toEqual([undefined]);
  });
});

describe('a failed grow reports what really happened', () => {
  let t: TestDirector;
  afterEach(async () => {
    await t.close();
  });

  it('says "attached and mounted again" when it is', async () => {
    t = await createTestDirector();
    expect((await deployAndWait(t.director, demo(512))).error).toBeNull();
    t.cloud.fail('resizeDisk', { error: new CloudError('quota exceeded') });
    const task = await deployAndWait(t.director, demo(1024));
    expect(task.error).toMatch(/quota exceeded.*is attached and mounted again and the containers run on it/);
    const now = await only(t);
    expect(await now.agent.listDisk()).toEqual([now.diskCid]);
  });

  it('says the disk is NOT attached when putting it back failed too', async () => {
    t = await createTestDirector();
    expect((await deployAndWait(t.director, demo(512))).error).toBeNull();
    const before = await only(t);
    t.cloud.fail('resizeDisk', { error: new CloudError('quota exceeded') });
    t.cloud.fail('attachDisk', { error: new CloudError('attach API down') });
    const task = await deployAndWait(t.director, demo(1024));
    expect(task.error).toMatch(/is NOT attached to the VM now \(putting it back failed: attach API down\)/);
    expect(task.error).not.toMatch(/attached and mounted again/);
    expect(await t.cloud.getDisks(before.vmCid)).toEqual([]);
  });
});

describe('a copy the director gives up on stops on the agent before the rollback', () => {
  let fx: ResizeFixture;
  let store: Store;
  let cloud: FakeCloud;
  afterEach(async () => {
    await fx.close();
  });

  const context = (cancelled: () => boolean): TaskContext => ({
    taskId: 1,
    user: 'test',
    logger: silentLogger,
    event: async () => undefined,
    step: async (_stage, _step, _i, _n, fn) => fn(),
    checkCancelled: async () => {
      if (cancelled()) throw new CancelledError('task 1 was cancelled');
    },
  });

  async function setUp(): Promise<Pick<ResizeFixture, 'target' | 'agent' | 'oldCid'>> {
    fx = await createResizeFixture();
    ({ store, cloud } = fx);
    fx.agent.storeData().set('k', 'v');
    return fx;
  }

  const deps = (extra: Record<string, number> = {}) => ({
    cloud,
    store,
    config: { agentCallTimeoutMs: 500, applyTimeoutMs: 500, ...extra },
  });

  function expectStoppedBeforeRollback(agent: FakeAgent): void {
    const actions = agent.calls.map((c) => c.action);
    const stopped = actions.indexOf('migrateDisk:stopped');
    expect(stopped).toBeGreaterThanOrEqual(0);
    const rollbackUnmount = actions.lastIndexOf('unmountDisk');
    expect(rollbackUnmount).toBeGreaterThan(stopped);
  }

  it('on a copy timeout: aborts, waits for the agent task to stop, then rolls back', async () => {
    const { target, agent, oldCid } = await setUp();
    agent.holdNextMigrate('copy', 200);
    const disk = (await store.disks.get(oldCid))!;
    await expect(
      resizePersistentDisk(deps({ diskCopyTimeoutMs: 100 }), context(() => false), target, disk, 512),
    ).rejects.toThrow(/migrate_disk \(copy\) on db\/0 \(i1\).*no result within.*old disk .* is still the instance's disk/);
    expectStoppedBeforeRollback(agent);
    expect(await agent.listDisk()).toEqual([oldCid]);
    expect(await store.diskMigrations.list()).toEqual([]);
  });

  it('on a cancelled task: the same', async () => {
    const { target, agent, oldCid } = await setUp();
    agent.holdNextMigrate('copy', 200);
    let cancelled = false;
    setTimeout(() => (cancelled = true), 100);
    const disk = (await store.disks.get(oldCid))!;
    await expect(resizePersistentDisk(deps(), context(() => cancelled), target, disk, 512)).rejects.toThrow(
      /task 1 was cancelled.*old disk .* is still the instance's disk/,
    );
    expectStoppedBeforeRollback(agent);
    expect(await agent.listDisk()).toEqual([oldCid]);
  });

  it("on the task's own signal (cancel or lost lock): the same", async () => {
    const { target, agent, oldCid } = await setUp();
    agent.holdNextMigrate('copy', 200);
    const controller = new AbortController();
    setTimeout(() => controller.abort(new CancelledError('the task lost its deployment lock')), 100);
    const ctx: TaskContext = { ...context(() => false), signal: controller.signal };
    const disk = (await store.disks.get(oldCid))!;
    await expect(resizePersistentDisk(deps(), ctx, target, disk, 512)).rejects.toThrow(
      /lost its deployment lock.*old disk .* is still the instance's disk/,
    );
    expectStoppedBeforeRollback(agent);
  });

  it('an agent task that does not confirm it stopped is not rolled back under it', async () => {
    const { target, agent, oldCid } = await setUp();
    agent.holdNextMigrate('copy', 5_000);
    const disk = (await store.disks.get(oldCid))!;
    await expect(
      resizePersistentDisk(deps({ diskCopyTimeoutMs: 100, agentStopGraceMs: 200 }), context(() => false), target, disk, 512),
    ).rejects.toThrow(/did not confirm .* stopped.*Nothing was rolled back yet/);
    expect(agent.calls.map((c) => c.action)).not.toContain('unmountDisk');
    expect(await store.diskMigrations.list()).toHaveLength(1);
  });
});
