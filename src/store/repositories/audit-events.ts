import type { Kysely } from 'kysely';
import type { AuditEvent } from '../../common/contracts/api.js';
import type { DatabaseSchema } from '../schema.js';
import { redactText, redactValue } from '../../common/redact.js';

export type NewAuditEvent = Omit<AuditEvent, 'id' | 'time' | 'deployment' | 'instance' | 'taskId' | 'error' | 'context'> &
  Partial<Pick<AuditEvent, 'deployment' | 'instance' | 'taskId' | 'error' | 'context'>>;

export class AuditEventsRepository {
  constructor(private readonly db: Kysely<DatabaseSchema>) {}

  async record(e: NewAuditEvent): Promise<void> {
    await this.db
      .insertInto('audit_events')
      .values({
        time: new Date().toISOString(),
        user_name: e.user,
        action: e.action,
        object_type: e.objectType,
        // Secrets never reach the audit log: an `ssh -c` command line may carry PASSWORD=… (redact.ts).
        object_name: redactText(e.objectName),
        deployment: e.deployment ?? null,
        instance: e.instance ?? null,
        task_id: e.taskId ?? null,
        error: e.error === undefined || e.error === null ? null : redactText(e.error),
        context_json: JSON.stringify(redactValue(e.context ?? {})),
      })
      .execute();
  }

  async exists(action: string, objectName: string): Promise<boolean> {
    const r = await this.db
      .selectFrom('audit_events')
      .select('id')
      .where('action', '=', action)
      .where('object_name', '=', objectName)
      .limit(1)
      .executeTakeFirst();
    return r !== undefined;
  }

  /** Newest first. */
  async list(options: { deployment?: string; limit?: number } = {}): Promise<AuditEvent[]> {
    let q = this.db.selectFrom('audit_events').selectAll();
    if (options.deployment !== undefined) q = q.where('deployment', '=', options.deployment);
    const rows = await q
      .orderBy('id', 'desc')
      .limit(options.limit ?? 200)
      .execute();
    return rows.map((r) => ({
      id: r.id,
      time: r.time,
      user: r.user_name,
      action: r.action,
      objectType: r.object_type,
      objectName: r.object_name,
      deployment: r.deployment,
      instance: r.instance,
      taskId: r.task_id,
      error: r.error,
      context: JSON.parse(r.context_json) as Record<string, unknown>,
    }));
  }
}
