/**
 * Schema migrations, kept in code (not files on disk) so that the bundled director needs nothing
 * beside itself. Only portable column types; `autoIncrement` is translated per dialect below.
 */
import { Migrator, sql } from 'kysely';
import { directorHealthState } from './migrations/0003-director-health-state.js';
import { instanceStemcells } from './migrations/0005-instance-stemcells.js';
import { dnsState } from './migrations/0006-dns-state.js';
import { cloudConfigs } from './migrations/0007-cloud-configs.js';
import { ipReservations } from './migrations/0008-ip-reservations.js';
import type { Kysely, Migration, MigrationProvider } from 'kysely';

export type DialectKind = 'sqlite' | 'postgres';

function migrations(kind: DialectKind): Record<string, Migration> {
  // SQLite's autoincrement needs "integer primary key"; PostgreSQL's is a serial/identity column.
  const idColumn = kind === 'postgres' ? ('serial' as const) : ('integer' as const);
  return {
    // Every statement of 0001 is "if not exists": SQLite runs DDL outside a transaction, so a
    // crash part-way through leaves some tables behind and the next start must be able to finish it.
    '0001_initial': {
      async up(db: Kysely<unknown>): Promise<void> {
        await db.schema
          .createTable('deployments')
          .ifNotExists()
          .addColumn('name', 'text', (c) => c.primaryKey())
          .addColumn('manifest', 'text')
          .addColumn('pending_manifest', 'text')
          .addColumn('resurrection', 'integer')
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .addColumn('last_deployed_at', 'text')
          .execute();

        await db.schema
          .createTable('instances')
          .ifNotExists()
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('deployment', 'text', (c) => c.notNull())
          .addColumn('group_name', 'text', (c) => c.notNull())
          .addColumn('idx', 'integer', (c) => c.notNull())
          .addColumn('desired_state', 'text', (c) => c.notNull())
          .addColumn('vm_cid', 'text')
          .addColumn('agent_id', 'text')
          .addColumn('ip', 'text')
          .addColumn('spec_json', 'text')
          .addColumn('spec_hash', 'text')
          .addColumn('last_heartbeat_at', 'text')
          .addColumn('job_state', 'text')
          .addColumn('heartbeat_json', 'text')
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addUniqueConstraint('instances_slot', ['deployment', 'group_name', 'idx'])
          .execute();
        await db.schema.createIndex('instances_agent').ifNotExists().on('instances').column('agent_id').execute();

        await db.schema
          .createTable('vms')
          .ifNotExists()
          .addColumn('cid', 'text', (c) => c.primaryKey())
          .addColumn('agent_id', 'text', (c) => c.notNull())
          .addColumn('instance_id', 'text', (c) => c.notNull())
          .addColumn('ip', 'text')
          .addColumn('created_at', 'text', (c) => c.notNull())
          .execute();

        await db.schema
          .createTable('disks')
          .ifNotExists()
          .addColumn('cid', 'text', (c) => c.primaryKey())
          .addColumn('size_mib', 'integer', (c) => c.notNull())
          .addColumn('instance_id', 'text')
          .addColumn('deployment', 'text')
          .addColumn('state', 'text', (c) => c.notNull())
          .addColumn('hint_json', 'text')
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('orphaned_at', 'text')
          .execute();

        await db.schema
          .createTable('tasks')
          .ifNotExists()
          .addColumn('id', idColumn, (c) => (kind === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey()))
          .addColumn('state', 'text', (c) => c.notNull())
          .addColumn('description', 'text', (c) => c.notNull())
          .addColumn('deployment', 'text')
          .addColumn('user_name', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('started_at', 'text')
          .addColumn('ended_at', 'text')
          .addColumn('result', 'text')
          .addColumn('error', 'text')
          .addColumn('cancel_requested', 'integer', (c) => c.notNull().defaultTo(0))
          .execute();

        await db.schema
          .createTable('task_events')
          .ifNotExists()
          .addColumn('task_id', 'integer', (c) => c.notNull())
          .addColumn('seq', 'integer', (c) => c.notNull())
          .addColumn('event_json', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('task_events_pk', ['task_id', 'seq'])
          .execute();

        await db.schema
          .createTable('audit_events')
          .ifNotExists()
          .addColumn('id', idColumn, (c) => (kind === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey()))
          .addColumn('time', 'text', (c) => c.notNull())
          .addColumn('user_name', 'text', (c) => c.notNull())
          .addColumn('action', 'text', (c) => c.notNull())
          .addColumn('object_type', 'text', (c) => c.notNull())
          .addColumn('object_name', 'text', (c) => c.notNull())
          .addColumn('deployment', 'text')
          .addColumn('instance', 'text')
          .addColumn('task_id', 'integer')
          .addColumn('error', 'text')
          .addColumn('context_json', 'text', (c) => c.notNull())
          .execute();

        await db.schema
          .createTable('alerts')
          .ifNotExists()
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('severity', 'integer', (c) => c.notNull())
          .addColumn('category', 'text', (c) => c.notNull())
          .addColumn('title', 'text', (c) => c.notNull())
          .addColumn('summary', 'text', (c) => c.notNull())
          .addColumn('deployment', 'text')
          .addColumn('instance', 'text')
          .addColumn('created_at', 'text', (c) => c.notNull())
          .execute();

        await db.schema
          .createTable('locks')
          .ifNotExists()
          .addColumn('name', 'text', (c) => c.primaryKey())
          .addColumn('task_id', 'integer', (c) => c.notNull())
          .addColumn('expires_at', 'text', (c) => c.notNull())
          .execute();

        await db.schema
          .createTable('config')
          .ifNotExists()
          .addColumn('key', 'text', (c) => c.primaryKey())
          .addColumn('value', 'text', (c) => c.notNull())
          .execute();
      },
      async down(db: Kysely<unknown>): Promise<void> {
        for (const t of ['config', 'locks', 'alerts', 'audit_events', 'task_events', 'tasks', 'disks', 'vms', 'instances', 'deployments']) {
          await db.schema.dropTable(t).ifExists().execute();
        }
      },
    },
    '0002_disk_mounted_before_and_migrations': diskMountedBeforeAndMigrations,
    '0003_director_health_state': directorHealthState,
    '0004_stemcells': stemcellTables,
    '0005_instance_stemcells': instanceStemcells,
    '0006_dns_state': dnsState,
    '0007_cloud_configs': cloudConfigs(kind),
    '0008_ip_reservations': ipReservations,
  };
}

/**
 * disks.mounted_before: whether the director ever saw the disk mounted (the agent formats only a
 * disk that was not); disks that exist already may hold data, so they start at 1.
 * disk_migrations: the state of a resize by copy, moved out of JSON documents in `config`.
 */
const diskMountedBeforeAndMigrations: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .alterTable('disks')
      .addColumn('mounted_before', 'integer', (c) => c.notNull().defaultTo(1))
      .execute();
    await db.schema
      .createTable('disk_migrations')
      .addColumn('instance_id', 'text', (c) => c.primaryKey())
      .addColumn('deployment', 'text', (c) => c.notNull())
      .addColumn('vm_cid', 'text', (c) => c.notNull())
      .addColumn('old_disk_cid', 'text', (c) => c.notNull())
      .addColumn('new_disk_cid', 'text')
      .addColumn('new_size_mib', 'integer', (c) => c.notNull())
      .addColumn('phase', 'text', (c) => c.notNull())
      .addColumn('copy_started_at_ms', 'double precision')
      .addColumn('started_at', 'text', (c) => c.notNull())
      .execute();
    // Migrations recorded by earlier versions as config documents "disk_migration:<instance>".
    const legacy = db as unknown as Kysely<LegacyConfig>;
    const rows = await legacy.selectFrom('config').select(['key', 'value']).where('key', 'like', 'disk_migration:%').execute();
    for (const row of rows) {
      const m = JSON.parse(row.value) as LegacyDiskMigration;
      await legacy
        .insertInto('disk_migrations')
        .values({
          instance_id: m.instanceId,
          deployment: m.deployment,
          vm_cid: m.vmCid,
          old_disk_cid: m.oldDiskCid,
          new_disk_cid: m.newDiskCid,
          new_size_mib: m.newSizeMiB,
          phase: m.phase,
          copy_started_at_ms: m.copyStartedAtMs,
          started_at: m.startedAt,
        })
        .execute();
      await legacy.deleteFrom('config').where('key', '=', row.key).execute();
    }
  },
  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.dropTable('disk_migrations').ifExists().execute();
    await db.schema.alterTable('disks').dropColumn('mounted_before').execute();
  },
};

interface LegacyDiskMigration {
  instanceId: string;
  deployment: string;
  vmCid: string;
  oldDiskCid: string;
  newDiskCid: string | null;
  newSizeMiB: number;
  phase: string;
  copyStartedAtMs: number | null;
  startedAt: string;
}

interface LegacyConfig {
  config: { key: string; value: string };
  disk_migrations: {
    instance_id: string;
    deployment: string;
    vm_cid: string;
    old_disk_cid: string;
    new_disk_cid: string | null;
    new_size_mib: number;
    phase: string;
    copy_started_at_ms: number | null;
    started_at: string;
  };
}

class InCodeMigrationProvider implements MigrationProvider {
  constructor(private readonly kind: DialectKind) {}
  getMigrations(): Promise<Record<string, Migration>> {
    return Promise.resolve(migrations(this.kind));
  }
}

/** Brings the schema to the latest version; throws with every failed migration's error. */
export async function migrateToLatest(db: Kysely<unknown>, kind: DialectKind): Promise<void> {
  const migrator = new Migrator({ db, provider: new InCodeMigrationProvider(kind) });
  const { error, results } = await migrator.migrateToLatest();
  if (error !== undefined) {
    const failed = results?.filter((r) => r.status === 'Error').map((r) => r.migrationName) ?? [];
    throw new Error(`Migrating the director database failed (${failed.join(', ') || 'unknown migration'}): ${String(error)}`, {
      cause: error,
    });
  }
}

/** Brings the schema to the named migration (tests of a later migration over an older schema). */
export async function migrateTo(db: Kysely<unknown>, kind: DialectKind, name: string): Promise<void> {
  const { error } = await new Migrator({ db, provider: new InCodeMigrationProvider(kind) }).migrateTo(name);
  if (error !== undefined) throw new Error(`Migrating the director database to ${name} failed: ${String(error)}`, { cause: error });
}

/** Used by tests to prove the database answers. */
export async function databaseVersion(db: Kysely<unknown>): Promise<string> {
  const r = await sql<{ v: string }>`select 'ok' as v`.execute(db);
  return r.rows[0]?.v ?? '';
}

/** Uploaded stemcells, and which stemcell each VM was created from ("in use by N VMs"). */
const stemcellTables: Migration = {
  // Uploaded stemcells, and which stemcell each VM was created from ("in use by N VMs").
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('stemcells')
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('version', 'text', (c) => c.notNull())
      .addColumn('operating_system', 'text', (c) => c.notNull())
      .addColumn('api_version', 'integer', (c) => c.notNull())
      .addColumn('formats_json', 'text', (c) => c.notNull())
      .addColumn('sha1', 'text', (c) => c.notNull())
      .addColumn('cid', 'text', (c) => c.notNull())
      .addColumn('uploaded_at', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('stemcells_pk', ['name', 'version'])
      .execute();
    // Its own table rather than a vms column, so that the deploy code that writes vms stays as it is.
    await db.schema
      .createTable('vm_stemcells')
      .addColumn('vm_cid', 'text', (c) => c.primaryKey())
      .addColumn('stemcell_cid', 'text', (c) => c.notNull())
      .execute();
  },
  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.dropTable('vm_stemcells').ifExists().execute();
    await db.schema.dropTable('stemcells').ifExists().execute();
  },
};
