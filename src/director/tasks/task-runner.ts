/**
 * Runs the director's tasks: every mutation is a task with a state, an event log and, when it
 * touches a deployment, that deployment's lock. Locks are taken when the task is enqueued: a
 * second task on a locked deployment fails at once with a ConflictError naming the holder (as
 * BOSH does), instead of queueing behind it invisibly.
 */
import { setMaxListeners } from 'node:events';
import { CancelledError, ConflictError, NotFoundError, errorMessage } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';
import type { Store } from '../../store/store.js';
import type { TaskInfo, TaskState } from '../../common/contracts/api.js';
import type { TaskContext, TaskEventInput } from './task-context.js';
import { scrubSecrets } from './task-context.js';
import { LockKeeper } from './lock-keeper.js';
import { assertTransition, isFinished } from './task-state.js';

export interface EnqueueOptions {
  description: string;
  deployment: string | null;
  user: string;
  /** Lock names to hold while the task runs; defaults to `deployment:<name>` when a deployment is given. */
  locks?: string[];
}

/** A task function returns its result (a short text or JSON string) or nothing. */
export type TaskFn = (ctx: TaskContext) => Promise<string | void>;

export interface TaskRunnerOptions {
  lockTtlMs?: number;
}

const DEFAULT_LOCK_TTL_MS = 10 * 60 * 1000;

const DEPLOYMENT_LOCK_PREFIX = 'deployment:';

export function deploymentLock(name: string): string {
  return `${DEPLOYMENT_LOCK_PREFIX}${name}`;
}

export class TaskRunner {
  private readonly running = new Map<number, Promise<void>>();
  /** Aborted when an operator cancels a processing task (its context's signal follows it). */
  private readonly cancels = new Map<number, AbortController>();
  private readonly lockTtlMs: number;

  constructor(
    private readonly store: Store,
    private readonly logger: Logger,
    options: TaskRunnerOptions = {},
  ) {
    this.lockTtlMs = options.lockTtlMs ?? DEFAULT_LOCK_TTL_MS;
  }

  /**
   * Marks tasks that a crashed director left queued or processing as failed and releases their
   * locks. Call once at start-up, before accepting requests.
   */
  async recoverAfterRestart(): Promise<number[]> {
    const stale = await this.store.tasks.list({ states: ['queued', 'processing', 'cancelling'] });
    const now = new Date().toISOString();
    for (const t of stale) {
      await this.store.tasks.update(t.id, {
        state: 'error',
        endedAt: now,
        error: 'The director restarted while the task ran; run the command again (every step is safe to repeat).',
      });
    }
    const ids = stale.map((t) => t.id);
    await this.store.locks.releaseAllOfTasks(ids);
    if (ids.length > 0) this.logger.warn('marked tasks interrupted by a director restart as failed', { taskIds: ids });
    return ids;
  }

  async enqueue(options: EnqueueOptions, fn: TaskFn): Promise<TaskInfo> {
    const lockNames = options.locks ?? (options.deployment !== null ? [deploymentLock(options.deployment)] : []);
    const task = await this.store.tasks.create({ description: options.description, deployment: options.deployment, user: options.user, state: 'queued' });
    const taken: string[] = [];
    const takenAtMs = Date.now();
    for (const name of lockNames) {
      const r = await this.store.locks.acquire(name, task.id, this.lockTtlMs);
      if (!r.acquired) {
        for (const n of taken) await this.store.locks.release(n, task.id);
        const message = `${describeLock(name)} is locked by task ${r.holder.taskId}; wait for it to finish (bosun task ${r.holder.taskId}) or cancel it, then try again.`;
        await this.store.tasks.update(task.id, { state: 'error', endedAt: new Date().toISOString(), error: message });
        throw new ConflictError(message, { details: { lock: name, taskId: r.holder.taskId } });
      }
      taken.push(name);
    }
    await this.audit(task.id, options, 'start');
    const run = this.run(task.id, options, taken, takenAtMs, fn).finally(() => this.running.delete(task.id));
    this.running.set(task.id, run);
    return this.get(task.id);
  }

  /** Deployments whose lock a task holds right now (the health monitor and cloud-check leave those alone). */
  async lockedDeployments(): Promise<Set<string>> {
    const locks = await this.store.locks.list();
    return new Set(locks.filter((l) => l.name.startsWith(DEPLOYMENT_LOCK_PREFIX)).map((l) => l.name.slice(DEPLOYMENT_LOCK_PREFIX.length)));
  }

  async get(id: number): Promise<TaskInfo> {
    const t = await this.store.tasks.get(id);
    if (t === undefined) throw new NotFoundError(`Task ${id} does not exist; list tasks with "bosun tasks".`);
    return toInfo(t);
  }

  /** Resolves when the task has ended (for tests and for callers that must wait). */
  async wait(id: number): Promise<TaskInfo> {
    await this.running.get(id);
    return this.get(id);
  }

  /** Waits for every running task (for shutdown and tests). */
  async drain(): Promise<void> {
    await Promise.all([...this.running.values()]);
  }

  async cancel(id: number): Promise<TaskInfo> {
    const t = await this.store.tasks.get(id);
    if (t === undefined) throw new NotFoundError(`Task ${id} does not exist; list tasks with "bosun tasks".`);
    if (isFinished(t.state)) throw new ConflictError(`Task ${id} has already ended (${t.state}); there is nothing to cancel.`);
    if (t.state === 'queued') {
      await this.store.tasks.update(id, { state: 'cancelled', cancelRequested: true, endedAt: new Date().toISOString() });
    } else if (t.state === 'processing') {
      await this.store.tasks.update(id, { state: 'cancelling', cancelRequested: true });
      this.cancels.get(id)?.abort(cancelledError(id));
    }
    return this.get(id);
  }

  private async run(taskId: number, options: EnqueueOptions, locks: string[], takenAtMs: number, fn: TaskFn): Promise<void> {
    const logger = this.logger.child({ taskId });
    const keeper = new LockKeeper(this.store.locks, taskId, locks, this.lockTtlMs, logger, takenAtMs);
    const cancel = new AbortController();
    this.cancels.set(taskId, cancel);
    // Let enqueue() return the queued task before the work starts.
    await new Promise((r) => setImmediate(r));
    let state: TaskState = 'queued';
    try {
      const current = await this.store.tasks.get(taskId);
      if (current?.state === 'cancelled') return;
      assertTransition(taskId, state, 'processing');
      state = 'processing';
      await this.store.tasks.update(taskId, { state, startedAt: new Date().toISOString() });
      const signal = AbortSignal.any([keeper.signal, cancel.signal]);
      // One task waits for many VMs at once (a deploy of 50 instances): each wait listens on it.
      setMaxListeners(0, signal);
      const ctx = new RunningTaskContext(taskId, options.user, logger, this.store, keeper, signal);
      let result: string | void = undefined;
      let failure: unknown = undefined;
      try {
        result = await fn(ctx);
      } catch (err) {
        failure = err;
      }
      const latest = (await this.store.tasks.get(taskId))?.state ?? state;
      const end: TaskState = failure === undefined ? 'done' : failure instanceof CancelledError ? 'cancelled' : 'error';
      assertTransition(taskId, latest, end);
      await this.store.tasks.update(taskId, {
        state: end,
        endedAt: new Date().toISOString(),
        result: typeof result === 'string' ? result : null,
        error: failure === undefined ? null : errorMessage(failure),
      });
      if (failure !== undefined && end === 'error') logger.warn('task failed', { error: errorMessage(failure) });
      await this.audit(taskId, options, end, failure === undefined ? undefined : errorMessage(failure));
    } catch (err) {
      // A failure of the bookkeeping itself (database gone): record what we can.
      logger.error('task bookkeeping failed', { error: errorMessage(err) });
      await this.store.tasks
        .update(taskId, { state: 'error', endedAt: new Date().toISOString(), error: errorMessage(err) })
        .catch(() => undefined);
    } finally {
      this.cancels.delete(taskId);
      await keeper.stop();
      for (const name of locks) await this.store.locks.release(name, taskId).catch(() => undefined);
    }
  }

  private async audit(taskId: number, options: EnqueueOptions, phase: string, error?: string): Promise<void> {
    await this.store.auditEvents.record({
      user: options.user,
      action: phase === 'start' ? 'task_start' : `task_${phase}`,
      objectType: 'task',
      objectName: String(taskId),
      deployment: options.deployment,
      taskId,
      error: error ?? null,
      context: { description: options.description },
    });
  }
}

function describeLock(name: string): string {
  return name.startsWith(DEPLOYMENT_LOCK_PREFIX) ? `Deployment "${name.slice(DEPLOYMENT_LOCK_PREFIX.length)}"` : `"${name}"`;
}

function cancelledError(taskId: number): CancelledError {
  return new CancelledError(`Task ${taskId} was cancelled at a step boundary; run the command again to converge.`);
}

function toInfo(t: TaskInfo): TaskInfo {
  return {
    id: t.id,
    state: t.state,
    description: t.description,
    deployment: t.deployment,
    user: t.user,
    createdAt: t.createdAt,
    startedAt: t.startedAt,
    endedAt: t.endedAt,
    result: t.result,
    error: t.error,
  };
}

class RunningTaskContext implements TaskContext {
  private seq = 0;
  /** Serialises event writes so that seq order is insertion order. */
  private writing: Promise<void> = Promise.resolve();

  constructor(
    readonly taskId: number,
    readonly user: string,
    readonly logger: Logger,
    private readonly store: Store,
    private readonly keeper: LockKeeper,
    readonly signal: AbortSignal,
  ) {}

  event(input: TaskEventInput): Promise<void> {
    const seq = ++this.seq;
    const event = { ...input, seq, time: new Date().toISOString() };
    if (input.data !== undefined) event.data = scrubSecrets(input.data) as Record<string, unknown>;
    const write = this.writing.then(() => this.store.taskEvents.append(this.taskId, event));
    this.writing = write.catch(() => undefined);
    return write;
  }

  async step<T>(stage: string, step: string, index: number, total: number, fn: () => Promise<T>): Promise<T> {
    await this.checkCancelled();
    const started = Date.now();
    await this.event({ stage, step, index, total, state: 'started' });
    try {
      const value = await fn();
      await this.event({ stage, step, index, total, state: 'finished', elapsedMs: Date.now() - started });
      return value;
    } catch (err) {
      await this.event({ stage, step, index, total, state: 'failed', elapsedMs: Date.now() - started, error: errorMessage(err) });
      throw err;
    }
  }

  async checkCancelled(): Promise<void> {
    this.keeper.check();
    const t = await this.store.tasks.get(this.taskId);
    if (t?.cancelRequested === true) throw cancelledError(this.taskId);
  }
}
