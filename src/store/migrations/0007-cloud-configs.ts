/**
 * BOSH's cloud config, kept by the director: every version uploaded (the newest is the current
 * one), and per instance the AZ it is placed in and the cloud properties its VM was created with
 * (a deploy compares them with what the cloud config now resolves to: a change recreates the VM).
 * Safe to re-run after a crash part-way.
 */
import type { Kysely, Migration } from 'kysely';
import type { DialectKind } from '../migrations.js';

export function cloudConfigs(kind: DialectKind): Migration {
  const idColumn = kind === 'postgres' ? ('serial' as const) : ('integer' as const);
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('cloud_configs')
        .ifNotExists()
        .addColumn('id', idColumn, (c) => (kind === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey()))
        .addColumn('text', 'text', (c) => c.notNull())
        .addColumn('user_name', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      const instances = (await db.introspection.getTables()).find((t) => t.name === 'instances');
      for (const column of ['az', 'cloud_properties_json']) {
        if (instances?.columns.some((c) => c.name === column) !== true) {
          await db.schema.alterTable('instances').addColumn(column, 'text').execute();
        }
      }
    },
    async down(db: Kysely<unknown>): Promise<void> {
      await db.schema.alterTable('instances').dropColumn('cloud_properties_json').execute();
      await db.schema.alterTable('instances').dropColumn('az').execute();
      await db.schema.dropTable('cloud_configs').ifExists().execute();
    },
  };
}
