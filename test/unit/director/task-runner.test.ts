import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/common/logger.js';
import type { TaskState } from '../../../src/common/contracts/api.js';
import { scrubSecrets } from '../../../src/director/tasks/task-context.js';
import { TaskRunner } from '../../../src/director/tasks/task-runner.js';
import { canTransition, isFinished } from '../../../src/director/tasks/task-state.js';
import { Store } from '../../../src/store/store.js';

describe('task state machine', () => {
  const all: TaskState[] = ['queued', 'processing', 'cancelling', 'done', 'error', 'cancelled'];
  it('allows exactly the documented transitions', () => {
    const allowed = all.flatMap((from) => all.filter((to) => canTransition(from, to)).map((to) => `${from}->${to}`));
    expect(allowed).toEqual([
      'queued->processing',
      'queued->error',
      'queued->cancelled',
      'processing->cancelling',
      'processing->done',
      'processing->error',
      'processing->cancelled',
      'cancelling->done',
      'cancelling->error',
      'cancelling->cancelled',
    ]);
    expect(all.filter(isFinished)).toEqual(['done', 'error', 'cancelled']);
  });
});

describe('task runner', () => {
  let store: Store;
  let runner: TaskRunner;
  beforeEach(async () => {
    store = await Store.create({ kind: 'sqlite', path: ':memory:' });
    runner = new TaskRunner(store, silentLogger);
  });
  afterEach(async () => {
    await runner.drain();
    await store.close();
  });

  it('runs a task through queued → processing → done with step events and timings', async () => {
    const task = await runner.enqueue({ description: 'work', deployment: 'd', user: 'u' }, async (ctx) => {
      await ctx.step('Stage', 'one', 1, 2, async () => undefined);
      await ctx.step('Stage', 'two', 2, 2, async () => undefined);
      return 'ok';
    });
    expect(task.state).toBe('queued');
    const done = await runner.wait(task.id);
    expect(done).toMatchObject({ state: 'done', result: 'ok', error: null });
    expect(done.startedAt).not.toBeNull();
    const events = await store.taskEvents.list(task.id);
    expect(events.map((e) => `${e.seq}:${e.step}:${e.state}`)).toEqual(['1:one:started', '2:one:finished', '3:two:started', '4:two:finished']);
    expect(events[1]?.elapsedMs).toBeGreaterThanOrEqual(0);
  });

  it('lets a task wait on its signal from many places at once without a MaxListenersExceeded warning (a deploy of 50 VMs)', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error): void => void warnings.push(w.name);
    process.on('warning', onWarning);
    try {
      const task = await runner.enqueue({ description: 'wide', deployment: 'd', user: 'u' }, async (ctx) => {
        const waits = Array.from({ length: 50 }, () => new Promise<void>((resolve) => {
          ctx.signal?.addEventListener('abort', () => resolve(), { once: true });
          setTimeout(resolve, 5);
        }));
        await Promise.all(waits);
      });
      expect((await runner.wait(task.id)).state).toBe('done');
      await new Promise((r) => setImmediate(r));
      expect(warnings).not.toContain('MaxListenersExceededWarning');
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('records a failed step and the task error', async () => {
    const task = await runner.enqueue({ description: 'work', deployment: null, user: 'u' }, async (ctx) => {
      await ctx.step('Stage', 'boom', 1, 1, () => Promise.reject(new Error('it broke')));
    });
    const done = await runner.wait(task.id);
    expect(done).toMatchObject({ state: 'error', error: 'it broke' });
    const events = await store.taskEvents.list(task.id);
    expect(events.at(-1)).toMatchObject({ state: 'failed', error: 'it broke' });
  });

  it('a second task on a locked deployment fails fast naming the holder; the lock goes when the task ends', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const first = await runner.enqueue({ description: 'a', deployment: 'd', user: 'u' }, () => gate);
    await expect(runner.enqueue({ description: 'b', deployment: 'd', user: 'u' }, async () => undefined)).rejects.toThrow(
      `Deployment "d" is locked by task ${first.id}`,
    );
    const other = await runner.enqueue({ description: 'c', deployment: 'other', user: 'u' }, async () => undefined);
    expect((await runner.wait(other.id)).state).toBe('done');
    release();
    await runner.wait(first.id);
    expect(await store.locks.list()).toEqual([]);
  });

  it('cancel stops the task at its next step', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const ran: string[] = [];
    const task = await runner.enqueue({ description: 'a', deployment: 'd', user: 'u' }, async (ctx) => {
      await ctx.step('S', 'first', 1, 2, async () => {
        ran.push('first');
        await gate;
      });
      await ctx.step('S', 'second', 2, 2, async () => {
        ran.push('second');
      });
    });
    await new Promise((r) => setTimeout(r, 20));
    expect((await runner.cancel(task.id)).state).toBe('cancelling');
    release();
    const done = await runner.wait(task.id);
    expect(done.state).toBe('cancelled');
    expect(ran).toEqual(['first']);
    await expect(runner.cancel(task.id)).rejects.toThrow(/already ended/);
  });

  it('marks tasks a crash left running as failed and releases their locks', async () => {
    const stale = await store.tasks.create({ description: 'deploy', deployment: 'd', user: 'u', state: 'processing' });
    await store.locks.acquire('deployment:d', stale.id, 60_000);
    expect(await runner.recoverAfterRestart()).toEqual([stale.id]);
    expect(await runner.get(stale.id)).toMatchObject({ state: 'error' });
    expect((await runner.get(stale.id)).error).toMatch(/director restarted/);
    expect(await store.locks.list()).toEqual([]);
  });

  it('never writes secret-looking values into events', async () => {
    const task = await runner.enqueue({ description: 'a', deployment: null, user: 'u' }, async (ctx) => {
      await ctx.event({ stage: 'S', step: 'x', index: 1, total: 1, state: 'finished', data: { env: { DB_PASSWORD: 'hunter2', PLAIN: 'ok' }, keyPem: 'PEM' } });
    });
    await runner.wait(task.id);
    const [e] = await store.taskEvents.list(task.id);
    expect(JSON.stringify(e)).not.toContain('hunter2');
    expect(JSON.stringify(e)).not.toContain('PEM');
    expect(e?.data).toEqual({ env: { DB_PASSWORD: '<redacted>', PLAIN: 'ok' }, keyPem: '<redacted>' });
    expect(scrubSecrets(['a', { token: 't' }])).toEqual(['a', { token: '<redacted>' }]);
  });
});
