import { redactText } from '../../common/redact.js';
import type { Kysely } from 'kysely';
import type { TaskInfo, TaskState } from '../../common/contracts/api.js';
import type { DatabaseSchema, TasksTable } from '../schema.js';

type TaskRow = Omit<TasksTable, 'id'> & { id: number };

export interface TaskRecord extends TaskInfo {
  cancelRequested: boolean;
}

function toRecord(r: TaskRow): TaskRecord {
  return {
    id: r.id,
    state: r.state as TaskState,
    description: r.description,
    deployment: r.deployment,
    user: r.user_name,
    createdAt: r.created_at,
    startedAt: r.started_at,
    endedAt: r.ended_at,
    result: r.result,
    error: r.error,
    cancelRequested: r.cancel_requested !== 0,
  };
}

export class TasksRepository {
  constructor(private readonly db: Kysely<DatabaseSchema>) {}

  async create(t: { description: string; deployment: string | null; user: string; state: TaskState }): Promise<TaskRecord> {
    const row = await this.db
      .insertInto('tasks')
      .values({
        state: t.state,
        description: t.description,
        deployment: t.deployment,
        user_name: t.user,
        created_at: new Date().toISOString(),
        started_at: null,
        ended_at: null,
        result: null,
        error: null,
        cancel_requested: 0,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toRecord(row);
  }

  async get(id: number): Promise<TaskRecord | undefined> {
    const r = await this.db.selectFrom('tasks').selectAll().where('id', '=', id).executeTakeFirst();
    return r && toRecord(r);
  }

  async list(options: { recent?: number; deployment?: string; states?: TaskState[] } = {}): Promise<TaskRecord[]> {
    let q = this.db.selectFrom('tasks').selectAll();
    if (options.deployment !== undefined) q = q.where('deployment', '=', options.deployment);
    if (options.states !== undefined && options.states.length > 0) q = q.where('state', 'in', options.states);
    q = q.orderBy('id', 'desc');
    if (options.recent !== undefined) q = q.limit(options.recent);
    const rows = await q.execute();
    return rows.map(toRecord);
  }

  async update(
    id: number,
    fields: Partial<{ state: TaskState; startedAt: string; endedAt: string; result: string | null; error: string | null; cancelRequested: boolean }>,
  ): Promise<void> {
    const set: Partial<Omit<TasksTable, 'id'>> = {};
    if (fields.state !== undefined) set.state = fields.state;
    if (fields.startedAt !== undefined) set.started_at = fields.startedAt;
    if (fields.endedAt !== undefined) set.ended_at = fields.endedAt;
    // Task results and errors are shown to every API user: secrets are redacted first (redact.ts).
    if (fields.result !== undefined) set.result = fields.result === null ? null : redactText(fields.result);
    if (fields.error !== undefined) set.error = fields.error === null ? null : redactText(fields.error);
    if (fields.cancelRequested !== undefined) set.cancel_requested = fields.cancelRequested ? 1 : 0;
    await this.db.updateTable('tasks').set(set).where('id', '=', id).execute();
  }
}
