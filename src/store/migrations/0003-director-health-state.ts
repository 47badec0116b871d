/**
 * The health parts' state gets tables of its own instead of JSON in `config`:
 * - the meltdown stops (deployment → when resurrection was stopped) move from the
 *   `resurrector_meltdowns` config blob into `resurrection_stops`;
 * - the last heartbeat is kept once: the health monitor holds it in memory, the instance row keeps
 *   only what `bosun instances` shows (last_heartbeat_at, job_state), so `heartbeat_json` goes.
 * Safe to re-run after a crash part-way: each step checks what is already there.
 */
import { sql } from 'kysely';
import type { Kysely, Migration } from 'kysely';

const MELTDOWNS_KEY = 'resurrector_meltdowns';

export const directorHealthState: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('resurrection_stops')
      .ifNotExists()
      .addColumn('deployment', 'text', (c) => c.primaryKey())
      .addColumn('tripped_at', 'text', (c) => c.notNull())
      .execute();
    const rows = await sql<{ value: string }>`select value from config where key = ${MELTDOWNS_KEY}`.execute(db);
    const blob = rows.rows[0]?.value;
    if (blob !== undefined) {
      for (const [deployment, at] of Object.entries(parseStops(blob))) {
        await sql`insert into resurrection_stops (deployment, tripped_at) values (${deployment}, ${at}) on conflict (deployment) do nothing`.execute(db);
      }
      await sql`delete from config where key = ${MELTDOWNS_KEY}`.execute(db);
    }
    const columns = await db.introspection.getTables();
    const instances = columns.find((t) => t.name === 'instances');
    if (instances?.columns.some((c) => c.name === 'heartbeat_json')) {
      await db.schema.alterTable('instances').dropColumn('heartbeat_json').execute();
    }
  },
  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.alterTable('instances').addColumn('heartbeat_json', 'text').execute();
    await db.schema.dropTable('resurrection_stops').ifExists().execute();
  },
};

function parseStops(blob: string): Record<string, string> {
  try {
    const parsed: unknown = JSON.parse(blob);
    if (typeof parsed !== 'object' || parsed === null) return {};
    return Object.fromEntries(Object.entries(parsed).filter((e): e is [string, string] => typeof e[1] === 'string'));
  } catch {
    return {};
  }
}
