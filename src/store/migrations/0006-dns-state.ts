/**
 * Service discovery's record-set version (docs/service-discovery.md): one row holding the version
 * the director last pushed and that set itself, so that versions keep growing across director
 * restarts (an agent ignores a push older than what it has) and the first set after a restart
 * knows each container's last health until its agent's next heartbeat.
 */
import type { Kysely, Migration } from 'kysely';

export const dnsState: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('dns_state')
      .ifNotExists()
      .addColumn('id', 'integer', (c) => c.primaryKey())
      .addColumn('version', 'integer', (c) => c.notNull())
      .addColumn('set_json', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .execute();
  },
  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.dropTable('dns_state').ifExists().execute();
  },
};
