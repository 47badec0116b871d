import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/common/logger.js';
import { LockLostError } from '../../../src/director/tasks/lock-keeper.js';
import { TaskRunner } from '../../../src/director/tasks/task-runner.js';
import { Store } from '../../../src/store/store.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('a task that loses its lock stops', () => {
  let store: Store;
  beforeEach(async () => {
    store = await Store.create({ kind: 'sqlite', path: ':memory:' });
  });
  afterEach(async () => {
    await store.close();
  });

  it('renew says whether the task still held the lock; an expired lock is not held', async () => {
    expect((await store.locks.acquire('deployment:d', 1, 60_000)).acquired).toBe(true);
    expect(await store.locks.renew('deployment:d', 1, 60_000)).toBe(true);
    expect(await store.locks.renew('deployment:d', 2, 60_000)).toBe(false);
    await store.locks.release('deployment:d', 1);
    expect(await store.locks.renew('deployment:d', 1, 60_000)).toBe(false);
    await store.locks.acquire('deployment:e', 3, 1);
    await sleep(10);
    expect(await store.locks.renew('deployment:e', 3, 60_000)).toBe(false);
  });

  it('one definition of locked: an expired lock locks nothing, for the runner and for `bosun locks`', async () => {
    const runner = new TaskRunner(store, silentLogger);
    await store.locks.acquire('deployment:stale', 7, 1);
    await store.locks.acquire('deployment:live', 8, 60_000);
    await sleep(10);
    expect([...(await runner.lockedDeployments())]).toEqual(['live']);
    expect((await store.locks.list()).map((l) => l.name)).toEqual(['deployment:live']);
  });

  it('another task taking the lock cancels the task at its next step, with an error that says so', async () => {
    const runner = new TaskRunner(store, silentLogger, { lockTtlMs: 300 });
    const ran: string[] = [];
    let signal: AbortSignal | undefined;
    const task = await runner.enqueue({ description: 'resize', deployment: 'd', user: 'u' }, async (ctx) => {
      signal = ctx.signal;
      await ctx.step('S', 'long copy', 1, 2, async () => {
        ran.push('first');
        // Meanwhile the lock goes to someone else (e.g. it expired and a resurrection took it).
        await store.db.updateTable('locks').set({ task_id: 999 }).where('name', '=', 'deployment:d').execute();
        await sleep(400);
      });
      await ctx.step('S', 'swap disks', 2, 2, async () => {
        ran.push('second');
      });
    });
    const done = await runner.wait(task.id);
    expect(ran).toEqual(['first']);
    expect(done.state).toBe('error');
    expect(done.error).toMatch(/lost its lock on deployment "d"/);
    expect(done.error).toMatch(/run the command again/);
    expect(signal?.aborted).toBe(true);
    expect(signal?.reason).toBeInstanceOf(LockLostError);
    // The other holder's lock is left alone.
    const rows = await store.db.selectFrom('locks').select(['task_id']).execute();
    expect(rows.map((r) => r.task_id)).toEqual([999]);
  });

  it('a lock that expires while renewals fail is lost too', async () => {
    const runner = new TaskRunner(store, silentLogger, { lockTtlMs: 200 });
    const renew = store.locks.renew.bind(store.locks);
    let failing = false;
    store.locks.renew = (...args) => (failing ? Promise.reject(new Error('database is locked')) : renew(...args));
    const task = await runner.enqueue({ description: 'resize', deployment: 'd', user: 'u' }, async (ctx) => {
      failing = true;
      await sleep(350);
      await ctx.checkCancelled();
      return 'finished anyway';
    });
    const done = await runner.wait(task.id);
    expect(done.state).toBe('error');
    expect(done.error).toMatch(/lost its lock on deployment "d" \(renewing it failed until it expired: database is locked\)|expired before it could be renewed/);
  });
});
