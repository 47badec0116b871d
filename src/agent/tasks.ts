import { randomUUID } from 'node:crypto';
import type { AgentTaskInfo } from '../common/contracts/agent-protocol.js';
import { CancelledError, NotFoundError, toErrorBody } from '../common/errors.js';
import type { Logger } from '../common/logger.js';

const KEEP_FINISHED_MS = 10 * 60_000;

/** What a long action's work receives: its cancellation signal and a progress reporter. */
export interface TaskWork {
  /** Aborted by `cancel_task`: the work should stop and reject (a CancelledError). */
  signal: AbortSignal;
  /** The latest report is shown while the task runs (e.g. a disk copy's bytes). */
  progress: (p: unknown) => void;
}

interface Task extends AgentTaskInfo {
  action: string;
  controller: AbortController;
  finishedAt?: number;
}

/**
 * Long actions run as tasks the director polls (GET /agent/v1/tasks/:id). A task is running until
 * its work settles: `done`, `failed`, or `cancelled` when it stopped after a `cancel_task` (a task
 * that finished before it could stop reports what it really did: done or failed).
 */
export class TaskRegistry {
  private readonly tasks = new Map<string, Task>();

  constructor(private readonly log: Logger) {}

  start(name: string, work: (task: TaskWork) => Promise<unknown>): AgentTaskInfo {
    this.prune();
    const task: Task = { id: randomUUID(), state: 'running', action: name, controller: new AbortController() };
    this.tasks.set(task.id, task);
    this.log.info('task started', { task: task.id, action: name });
    let settled: Promise<unknown>;
    try {
      settled = work({
        signal: task.controller.signal,
        progress: (p) => {
          task.progress = p;
        },
      });
    } catch (err) {
      settled = Promise.reject(err);
    }
    settled.then(
      (value) => {
        task.state = 'done';
        if (value !== undefined) task.value = value;
        task.finishedAt = Date.now();
        this.log.info('task done', { task: task.id, action: name });
      },
      (err: unknown) => {
        const { body } = toErrorBody(err);
        const cancelled = task.controller.signal.aborted;
        task.state = cancelled ? 'cancelled' : 'failed';
        task.error = { code: cancelled ? 'cancelled' : body.error.code, message: body.error.message };
        if (body.error.details !== undefined) task.error.details = body.error.details;
        task.finishedAt = Date.now();
        if (cancelled) this.log.info('task cancelled', { task: task.id, action: name, error: body.error.message });
        else this.log.warn('task failed', { task: task.id, action: name, error: body.error.message });
      },
    );
    return this.view(task);
  }

  get(id: string): AgentTaskInfo | undefined {
    const t = this.tasks.get(id);
    return t ? this.view(t) : undefined;
  }

  /**
   * `cancel_task`: asks the task to stop and answers its state at once (still `running` while it
   * stops; poll until it is not). Cancelling a finished task changes nothing.
   */
  cancel(id: string): AgentTaskInfo {
    const t = this.tasks.get(id);
    if (!t) throw new NotFoundError(`The agent has no task ${id} to cancel; it may have finished long ago or the agent restarted.`);
    if (t.state === 'running' && !t.controller.signal.aborted) {
      this.log.info('task cancel requested', { task: id, action: t.action });
      t.controller.abort(new CancelledError(`The agent's ${t.action} task was cancelled by the director.`));
    }
    return this.view(t);
  }

  private view(t: AgentTaskInfo): AgentTaskInfo {
    const v: AgentTaskInfo = { id: t.id, state: t.state };
    if (t.value !== undefined) v.value = t.value;
    if (t.error) v.error = t.error;
    if (t.progress !== undefined) v.progress = t.progress;
    return v;
  }

  private prune(): void {
    const now = Date.now();
    for (const [id, t] of this.tasks) if (t.finishedAt !== undefined && now - t.finishedAt > KEEP_FINISHED_MS) this.tasks.delete(id);
  }
}
