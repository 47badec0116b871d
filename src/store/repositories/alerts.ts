import type { Kysely } from 'kysely';
import type { Alert } from '../../common/contracts/api.js';
import type { DatabaseSchema } from '../schema.js';

export class AlertsRepository {
  constructor(private readonly db: Kysely<DatabaseSchema>) {}

  async record(a: Alert): Promise<void> {
    await this.db
      .insertInto('alerts')
      .values({
        id: a.id,
        severity: a.severity,
        category: a.category,
        title: a.title,
        summary: a.summary,
        deployment: a.deployment,
        instance: a.instance,
        created_at: a.createdAt,
      })
      .execute();
  }

  /** Newest first. */
  async list(options: { deployment?: string; limit?: number } = {}): Promise<Alert[]> {
    let q = this.db.selectFrom('alerts').selectAll();
    if (options.deployment !== undefined) q = q.where('deployment', '=', options.deployment);
    const rows = await q
      .orderBy('created_at', 'desc')
      .limit(options.limit ?? 200)
      .execute();
    return rows.map((r) => ({
      id: r.id,
      severity: Math.min(4, Math.max(1, r.severity)) as Alert['severity'],
      category: r.category,
      title: r.title,
      summary: r.summary,
      deployment: r.deployment,
      instance: r.instance,
      createdAt: r.created_at,
    }));
  }
}
