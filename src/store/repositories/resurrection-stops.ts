import type { Kysely } from 'kysely';
import type { DatabaseSchema } from '../schema.js';

/**
 * Deployments whose resurrection the meltdown rule stopped (deployment → when, ISO time): kept
 * across director restarts so that a restarted director does not resume mass resurrection.
 */
export class ResurrectionStopsRepository {
  constructor(private readonly db: Kysely<DatabaseSchema>) {}

  async list(): Promise<Record<string, string>> {
    const rows = await this.db.selectFrom('resurrection_stops').selectAll().orderBy('deployment').execute();
    return Object.fromEntries(rows.map((r) => [r.deployment, r.tripped_at]));
  }

  /** Makes the stored stops exactly `stops`. */
  async replaceAll(stops: Record<string, string>): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('resurrection_stops').execute();
      const rows = Object.entries(stops).map(([deployment, tripped_at]) => ({ deployment, tripped_at }));
      if (rows.length > 0) await trx.insertInto('resurrection_stops').values(rows).execute();
    });
  }
}
