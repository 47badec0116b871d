import { afterEach, describe, expect, it } from 'vitest';
import type { FakeAgent } from '../../../src/cloud/fake/fake-agent.js';
import type { FakeCloud } from '../../../src/cloud/fake/index.js';
import { NotSupportedError } from '../../../src/cloud/cloud.js';
import { silentLogger } from '../../../src/common/logger.js';
import type { TaskEventInput, TaskContext } from '../../../src/director/tasks/task-context.js';
import { resizePersistentDisk } from '../../../src/director/disks/disk-resize.js';
import {
  DEFAULT_ORPHANED_DISK_RETENTION_MS,
  sweepOrphanedDisks,
} from '../../../src/director/disks/orphan-sweeper.js';
import type { Store } from '../../../src/store/store.js';
import { createResizeFixture, type ResizeFixture } from '../../helpers/resize-fixture.js';
import type { TestDirector, TestManifest } from '../../helpers/director-fixtures.js';
import { createTestDirector, deployAndWait } from '../../helpers/director-fixtures.js';

const redis = { name: 'redis', image: 'redis:7' };
const demo = (disk: number, instances = 1): TestManifest => ({
  name: 'demo',
  groups: [{ name: 'db', instances, disk, containers: [redis] }],
});

async function only(t: TestDirector): Promise<{ agent: FakeAgent; instanceId: string; diskCid: string }> {
  const [i] = await t.director.listInstances('demo');
  const agent = t.cloud.agentOf(i?.agentId ?? '');
  if (!i || !agent || !i.diskCids[0]) throw new Error('no instance');
  return { agent, instanceId: i.id, diskCid: i.diskCids[0] };
}

/** Deploys demo with a `diskMiB` persistent disk (throws unless it succeeds); its only instance. */
async function deployDemo(t: TestDirector, diskMiB: number): ReturnType<typeof only> {
  const task = await deployAndWait(t.director, demo(diskMiB));
  if (task.state !== 'done') throw new Error(`deploying demo with a ${diskMiB} MiB disk failed: ${task.error}`);
  return only(t);
}

/**
 * The agent "dies" right when its next migrateDisk call ends (it stops answering), so a rollback
 * cannot reach it. Returns the revival: answering again, migrateDisk as before.
 */
function unresponsiveAfterNextMigrate(agent: FakeAgent): () => void {
  const origMigrate = agent.migrateDisk.bind(agent);
  agent.migrateDisk = async (r, p) => {
    try {
      return await origMigrate(r, p);
    } finally {
      agent.setUnresponsive(true);
    }
  };
  return () => {
    agent.setUnresponsive(false);
    agent.migrateDisk = origMigrate;
  };
}

function actionsSince(agent: FakeAgent, from: number): string[] {
  return agent.calls.slice(from).map((c) => c.action);
}

describe('persistent disk resize through deploy (fake cloud)', () => {
  let t: TestDirector;
  afterEach(async () => {
    await t.close();
  });

  it('grows in place: resizeDisk on the detached disk, no new disk, no copy, data kept, containers running', async () => {
    t = await createTestDirector();
    expect((await deployAndWait(t.director, demo(1024))).state).toBe('done');
    const before = await only(t);
    before.agent.storeData().set('redis/appendonly.aof', 'SET k v');
    const from = t.cloud.calls.length;
    const agentFrom = before.agent.calls.length;
    const task = await deployAndWait(t.director, demo(2048));
    expect(task.error).toBeNull();
    const methods = t.cloud.calls.slice(from).map((c) => c.method);
    expect(methods).toContain('resizeDisk');
    expect(methods).not.toContain('createDisk');
    // Stop → detach → resize → attach → mount → start, in that order.
    const order = ['detachDisk', 'resizeDisk', 'attachDisk'].map((m) => methods.indexOf(m));
    expect(order).toEqual([...order].sort((a, b) => a - b));
    const actions = actionsSince(before.agent, agentFrom);
    expect(actions).not.toContain('migrateDisk');
    expect(actions.indexOf('stop')).toBeLessThan(actions.indexOf('unmountDisk'));
    expect(actions.indexOf('mountDisk')).toBeLessThan(actions.lastIndexOf('start'));
    const after = await only(t);
    expect(after.diskCid).toBe(before.diskCid);
    expect(t.cloud.diskSizeMiB(after.diskCid)).toBe(2048);
    expect(after.agent.storeData().get('redis/appendonly.aof')).toBe('SET k v');
    expect((await after.agent.getState()).jobState).toBe('running');
    const events = await t.director.taskEvents(task.id);
    expect(events.some((e) => e.step === 'resize disk in the cloud' && e.state === 'finished')).toBe(true);
    // Converged: deploying again does nothing to the disk.
    const again = t.cloud.calls.length;
    await deployAndWait(t.director, demo(2048));
    expect(t.cloud.calls.slice(again).map((c) => c.method)).not.toContain('resizeDisk');
  });

  it('shrinks by copy: new disk, bulk copy while running, stop, delta, swap, start; old disk detached and orphaned', async () => {
    t = await createTestDirector();
    const before = await deployDemo(t, 2048);
    for (let i = 0; i < 50; i++) before.agent.storeData().set(`file-${i}`, `content ${i}`);
    const agentFrom = before.agent.calls.length;
    const task = await deployAndWait(t.director, demo(512));
    expect(task.error).toBeNull();
    const after = await only(t);
    expect(after.diskCid).not.toBe(before.diskCid);
    expect(t.cloud.diskSizeMiB(after.diskCid)).toBe(512);
    expect([...after.agent.storeData().entries()]).toEqual([...t.cloud.diskData(before.diskCid).entries()]);
    expect(after.agent.storeData().size).toBe(50);
    const actions = actionsSince(before.agent, agentFrom);
    const copy = actions.indexOf('migrateDisk');
    const stop = actions.indexOf('stop');
    expect(copy).toBeGreaterThanOrEqual(0);
    expect(copy).toBeLessThan(stop); // the bulk copy runs while the containers still run
    expect(actions.lastIndexOf('migrateDisk')).toBeGreaterThan(stop); // the delta after the stop
    expect((await after.agent.getState()).jobState).toBe('running');
    const orphans = await t.director.listDisks({ orphaned: true });
    expect(orphans.map((d) => d.diskCid)).toEqual([before.diskCid]);
    expect(await t.cloud.getDisks(after.agent.vmCid)).toEqual([after.diskCid]);
    const events = await t.director.taskEvents(task.id);
    const progress = events.filter((e) => e.state === 'in_progress' && e.data?.bytesCopied !== undefined);
    expect(progress.length).toBeGreaterThanOrEqual(2);
    expect(progress[0]?.data?.filesCopied).toBe(50);
    expect(events.some((e) => e.step === 'swap disks' && e.state === 'finished')).toBe(true);
    expect(await t.director.store.diskMigrations.list()).toEqual([]);
  });

  it('grows by copy on a cloud without resizeDisk', async () => {
    t = await createTestDirector({ cloud: { supportsResizeDisk: false } });
    const before = await deployDemo(t, 512);
    before.agent.storeData().set('k', 'v');
    const task = await deployAndWait(t.director, demo(1024));
    expect(task.error).toBeNull();
    const after = await only(t);
    expect(after.diskCid).not.toBe(before.diskCid);
    expect(after.agent.storeData().get('k')).toBe('v');
    expect(t.cloud.calls.some((c) => c.method === 'resizeDisk')).toBe(false);
  });

  it('falls back to the copy when resizeDisk answers NotSupported, with the disk back in place first', async () => {
    t = await createTestDirector();
    const before = await deployDemo(t, 512);
    before.agent.storeData().set('k', 'v');
    t.cloud.fail('resizeDisk', { error: new NotSupportedError('resizing this disk in place') });
    const task = await deployAndWait(t.director, demo(1024));
    expect(task.error).toBeNull();
    const after = await only(t);
    expect(after.diskCid).not.toBe(before.diskCid);
    expect(t.cloud.diskSizeMiB(after.diskCid)).toBe(1024);
    expect(after.agent.storeData().get('k')).toBe('v');
    expect(await t.cloud.getDisks(after.agent.vmCid)).toEqual([after.diskCid]);
    expect((await after.agent.getState()).jobState).toBe('running');
  });

  it('refuses a shrink below the data size before anything stops or is created', async () => {
    t = await createTestDirector();
    const before = await deployDemo(t, 1024);
    before.agent.storeData().set('big', 'x'.repeat(60 * 1024 * 1024));
    const from = t.cloud.calls.length;
    const agentFrom = before.agent.calls.length;
    const task = await deployAndWait(t.director, demo(100));
    expect(task.state).toBe('error');
    expect(task.error).toMatch(
      /Cannot shrink the persistent disk of db\/0 .* to 100 MiB: its data uses 6[01] MiB and needs at least \d+ MiB/,
    );
    expect(actionsSince(before.agent, agentFrom)).not.toContain('stop');
    expect(actionsSince(before.agent, agentFrom)).not.toContain('drain');
    expect(t.cloud.calls.slice(from).map((c) => c.method)).not.toContain('createDisk');
    expect((await before.agent.getState()).jobState).toBe('running');
    expect((await only(t)).diskCid).toBe(before.diskCid);
  });

  it('a failure during the bulk copy leaves the old disk active and the containers running; the new disk is orphaned', async () => {
    t = await createTestDirector();
    const before = await deployDemo(t, 2048);
    before.agent.storeData().set('k', 'v');
    before.agent.failNextMigrate('copy', 'rsync: No space left on device');
    const task = await deployAndWait(t.director, demo(512));
    expect(task.state).toBe('error');
    expect(task.error).toMatch(
      /failed at step "copy data while the containers run": rsync: No space left on device/,
    );
    expect(task.error).toMatch(/old disk .* is still the instance's disk/);
    const now = await only(t);
    expect(now.diskCid).toBe(before.diskCid);
    expect(await t.cloud.getDisks(now.agent.vmCid)).toEqual([before.diskCid]);
    expect(await now.agent.listDisk()).toEqual([before.diskCid]);
    expect((await now.agent.getState()).jobState).toBe('running');
    const orphans = await t.director.listDisks({ orphaned: true });
    expect(orphans).toHaveLength(1);
    expect(orphans[0]?.diskCid).not.toBe(before.diskCid);
    // A re-run succeeds.
    const again = await deployAndWait(t.director, demo(512));
    expect(again.error).toBeNull();
    expect((await only(t)).agent.storeData().get('k')).toBe('v');
  });

  it('a failure in the delta pass (containers stopped) starts them again on the old disk', async () => {
    t = await createTestDirector();
    const before = await deployDemo(t, 2048);
    before.agent.failNextMigrate('delta', 'verification failed: x differs');
    const task = await deployAndWait(t.director, demo(512));
    expect(task.error).toMatch(/failed at step "copy changes and verify"/);
    const now = await only(t);
    expect(now.diskCid).toBe(before.diskCid);
    const state = await now.agent.getState();
    expect(state.stopped).toBe(false);
    expect(state.jobState).toBe('running');
  });

  it('a failure in the swap rolls back to the old disk and restarts the containers', async () => {
    t = await createTestDirector();
    const before = await deployDemo(t, 2048);
    before.agent.storeData().set('k', 'v');
    before.agent.failNextMigrate('swap', 'mount: wrong fs type');
    const task = await deployAndWait(t.director, demo(512));
    expect(task.error).toMatch(/failed at step "swap disks": mount: wrong fs type/);
    const now = await only(t);
    expect(now.diskCid).toBe(before.diskCid);
    expect(await now.agent.listDisk()).toEqual([before.diskCid]);
    expect(await t.cloud.getDisks(now.agent.vmCid)).toEqual([before.diskCid]);
    expect((await now.agent.getState()).jobState).toBe('running');
    expect(now.agent.storeData().get('k')).toBe('v');
  });

  it('an agent that stops answering mid-copy: the re-run rolls back first, then converges', async () => {
    t = await createTestDirector();
    const before = await deployDemo(t, 2048);
    before.agent.storeData().set('k', 'v');
    before.agent.failNextMigrate('copy');
    // The agent "dies" right when the copy fails: the rollback cannot reach it.
    const revive = unresponsiveAfterNextMigrate(before.agent);
    const task = await deployAndWait(t.director, demo(512));
    expect(task.error).toMatch(/Rolling back did not finish either/);
    expect(await t.director.store.diskMigrations.list()).toHaveLength(1);
    revive();
    const again = await deployAndWait(t.director, demo(512));
    expect(again.error).toBeNull();
    const after = await only(t);
    expect(after.agent.storeData().get('k')).toBe('v');
    expect(await t.cloud.getDisks(after.agent.vmCid)).toEqual([after.diskCid]);
    // Two orphans: the interrupted copy's disk and the old disk; no disk attached twice.
    expect((await t.director.listDisks({ orphaned: true })).map((d) => d.diskCid)).toContain(before.diskCid);
    expect(await t.director.store.diskMigrations.list()).toEqual([]);
  });
});

/** A context whose steps record events, and which "crashes" (never returns) when `crashAt` starts. */
function crashingContext(crashAt: string | null, events: TaskEventInput[]): TaskContext {
  return {
    taskId: 1,
    user: 'test',
    logger: silentLogger,
    event: async (e) => {
      events.push(e);
    },
    step: async (stage, step, index, total, fn) => {
      if (step === crashAt) return new Promise<never>(() => undefined);
      events.push({ stage, step, index, total, state: 'started' });
      const r = await fn();
      events.push({ stage, step, index, total, state: 'finished' });
      return r;
    },
    checkCancelled: async () => undefined,
  };
}

describe('resize after a director crash (module level)', () => {
  let fx: ResizeFixture;
  let store: Store;
  let cloud: FakeCloud;
  afterEach(async () => {
    await fx.close();
  });

  async function setUp(): Promise<Pick<ResizeFixture, 'target' | 'agent' | 'oldCid'>> {
    fx = await createResizeFixture();
    ({ store, cloud } = fx);
    for (let i = 0; i < 10; i++) fx.agent.storeData().set(`f${i}`, `v${i}`);
    return fx;
  }

  const deps = () => ({ cloud, store, config: { agentCallTimeoutMs: 500, applyTimeoutMs: 500 } });

  for (const crashAt of [
    'create new disk',
    'copy data while the containers run',
    'copy changes while the containers run',
    'stop containers',
    'copy changes and verify',
    'start containers',
    'swap disks',
    'detach old disk (kept as an orphan)',
  ]) {
    it(`converges when the director dies at "${crashAt}"`, async () => {
      const { target, agent, oldCid } = await setUp();
      const disk = (await store.disks.get(oldCid))!;
      // The crashed run: its promise never settles (the process is gone).
      void resizePersistentDisk(deps(), crashingContext(crashAt, []), target, disk, 512);
      await new Promise((r) => setTimeout(r, 50));
      const pending = await store.diskMigrations.get('i1');
      expect(pending).not.toBeNull();
      // Until the swap is committed the old disk is the active one.
      if (crashAt !== 'detach old disk (kept as an orphan)' && crashAt !== 'start containers')
        expect((await store.disks.activeForInstance('i1'))[0]?.cid).toBe(oldCid);

      const active = (await store.disks.activeForInstance('i1'))[0]!;
      const events: TaskEventInput[] = [];
      const result = await resizePersistentDisk(deps(), crashingContext(null, events), target, active, 512);
      expect(result.sizeMiB).toBe(512);
      expect(result.cid).not.toBe(oldCid);
      expect((await store.disks.activeForInstance('i1')).map((d) => d.cid)).toEqual([result.cid]);
      expect(await cloud.getDisks(target.vmCid)).toEqual([result.cid]);
      expect(await agent.listDisk()).toEqual([result.cid]);
      expect(agent.storeData().size).toBe(10);
      expect(agent.storeData().get('f3')).toBe('v3');
      expect(await store.diskMigrations.list()).toEqual([]);
      expect((await store.disks.get(oldCid))?.state).toBe('orphaned');
      const state = await agent.getState();
      expect(state.stopped).toBe(false);
    });
  }
});

describe('orphaned disks: retention sweep and delete-disk', () => {
  let t: TestDirector;
  afterEach(async () => {
    await t.close();
  });

  it('the sweep deletes orphans older than the retention period, and only those', async () => {
    t = await createTestDirector();
    const before = await deployDemo(t, 2048);
    expect((await deployAndWait(t.director, demo(512))).error).toBeNull();
    const deleted: string[] = [];
    const deps = {
      store: t.director.store,
      logger: silentLogger,
      deleteDisk: async (cid: string) => {
        deleted.push(cid);
        const task = await t.director.deleteDisk(cid, 'sweeper');
        await t.director.tasks.wait(task.id);
      },
    };
    expect(await sweepOrphanedDisks(deps, DEFAULT_ORPHANED_DISK_RETENTION_MS)).toEqual([]);
    expect(await t.cloud.hasDisk(before.diskCid)).toBe(true);
    const sixDaysLater = Date.now() + 6 * 24 * 3600_000;
    expect(await sweepOrphanedDisks(deps, DEFAULT_ORPHANED_DISK_RETENTION_MS, sixDaysLater)).toEqual([
      before.diskCid,
    ]);
    expect(await t.cloud.hasDisk(before.diskCid)).toBe(false);
    expect(await t.director.listDisks({ orphaned: true })).toEqual([]);
    expect((await only(t)).agent.storeData().size).toBeGreaterThanOrEqual(0);
  });

  it('delete-disk refuses a disk an unfinished resize still uses', async () => {
    t = await createTestDirector();
    const before = await deployDemo(t, 2048);
    before.agent.failNextMigrate('copy');
    const revive = unresponsiveAfterNextMigrate(before.agent);
    await deployAndWait(t.director, demo(512));
    const [pending] = await t.director.store.diskMigrations.list();
    expect(pending?.newDiskCid).toBeTruthy();
    await expect(t.director.deleteDisk(pending?.newDiskCid ?? '', 'admin')).rejects.toThrow(
      /unfinished disk resize/,
    );
    revive();
  });
});
