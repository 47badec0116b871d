import type { Kysely } from 'kysely';
import type { TaskEvent } from '../../common/contracts/api.js';
import type { DatabaseSchema } from '../schema.js';
import { redactValue } from '../../common/redact.js';

export class TaskEventsRepository {
  constructor(private readonly db: Kysely<DatabaseSchema>) {}

  async append(taskId: number, event: TaskEvent): Promise<void> {
    await this.db.insertInto('task_events').values({ task_id: taskId, seq: event.seq, event_json: JSON.stringify(redactValue(event)) }).execute();
  }

  async list(taskId: number, afterSeq = 0): Promise<TaskEvent[]> {
    const rows = await this.db
      .selectFrom('task_events')
      .select('event_json')
      .where('task_id', '=', taskId)
      .where('seq', '>', afterSeq)
      .orderBy('seq')
      .execute();
    return rows.map((r) => JSON.parse(r.event_json) as TaskEvent);
  }

  async lastSeq(taskId: number): Promise<number> {
    const r = await this.db
      .selectFrom('task_events')
      .select((eb) => eb.fn.max('seq').as('max'))
      .where('task_id', '=', taskId)
      .executeTakeFirst();
    return Number(r?.max ?? 0);
  }
}
