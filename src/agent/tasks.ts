import { randomUUID } from 'node:crypto';
import type { AgentTaskInfo } from '../common/contracts/agent-protocol.js';
import { toErrorBody } from '../common/errors.js';
import type { Logger } from '../common/logger.js';

const KEEP_FINISHED_MS = 10 * 60_000;

/** Long actions run as tasks the director polls (GET /agent/v1/tasks/:id). */
export class TaskRegistry {
  private readonly tasks = new Map<string, AgentTaskInfo & { finishedAt?: number }>();

  constructor(private readonly log: Logger) {}

  /** `work` may report progress (e.g. a disk copy's bytes): the latest report is shown while it runs. */
  start(name: string, work: (progress: (p: unknown) => void) => Promise<unknown>): AgentTaskInfo {
    this.prune();
    const task: AgentTaskInfo & { finishedAt?: number } = { id: randomUUID(), state: 'running' };
    this.tasks.set(task.id, task);
    this.log.info('task started', { task: task.id, action: name });
    work((p) => {
      task.progress = p;
    }).then(
      (value) => {
        task.state = 'done';
        if (value !== undefined) task.value = value;
        task.finishedAt = Date.now();
        this.log.info('task done', { task: task.id, action: name });
      },
      (err: unknown) => {
        const { body } = toErrorBody(err);
        task.state = 'failed';
        task.error = body.error;
        task.finishedAt = Date.now();
        this.log.warn('task failed', { task: task.id, action: name, error: body.error.message });
      },
    );
    return this.view(task);
  }

  get(id: string): AgentTaskInfo | undefined {
    const t = this.tasks.get(id);
    return t ? this.view(t) : undefined;
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
