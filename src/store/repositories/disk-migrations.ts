/**
 * The persisted state of a disk resize by copy, so that a re-run after a director or agent crash
 * knows which disk is authoritative: one row per instance in `disk_migrations`, changed in the same
 * transactions as the `disks` rows it concerns.
 *
 * The rule: the OLD disk is the instance's active disk until `commitSwap` flips both rows in one
 * transaction. The new disk is recorded as an orphan the moment it exists, so whatever happens
 * before the commit, it is never mistaken for the instance's data and is never lost track of.
 */
import type { Kysely } from 'kysely';
import type { DatabaseSchema, DiskMigrationsTable } from '../schema.js';

/**
 * creating: before/while createDisk; copying: new disk attached, bulk copy; stopped: containers
 * stopped, delta/verify/swap; committed: the new disk is the active one, the old disk still has to
 * be detached from `vmCid`.
 */
export type DiskMigrationPhase = 'creating' | 'copying' | 'stopped' | 'committed';

export interface DiskMigrationRecord {
  instanceId: string;
  deployment: string;
  /** The VM the new disk was attached to (a re-run may find the instance on another VM). */
  vmCid: string;
  oldDiskCid: string;
  newDiskCid: string | null;
  newSizeMiB: number;
  phase: DiskMigrationPhase;
  copyStartedAtMs: number | null;
  startedAt: string;
}

const PHASES: readonly DiskMigrationPhase[] = ['creating', 'copying', 'stopped', 'committed'];

function toRecord(r: DiskMigrationsTable): DiskMigrationRecord {
  const phase = PHASES.find((p) => p === r.phase);
  if (phase === undefined) throw new Error(`disk_migrations row of instance ${r.instance_id} has an unknown phase "${r.phase}"`);
  return {
    instanceId: r.instance_id,
    deployment: r.deployment,
    vmCid: r.vm_cid,
    oldDiskCid: r.old_disk_cid,
    newDiskCid: r.new_disk_cid,
    newSizeMiB: Number(r.new_size_mib),
    phase,
    copyStartedAtMs: r.copy_started_at_ms === null ? null : Number(r.copy_started_at_ms),
    startedAt: r.started_at,
  };
}

function toRow(m: DiskMigrationRecord): DiskMigrationsTable {
  return {
    instance_id: m.instanceId,
    deployment: m.deployment,
    vm_cid: m.vmCid,
    old_disk_cid: m.oldDiskCid,
    new_disk_cid: m.newDiskCid,
    new_size_mib: m.newSizeMiB,
    phase: m.phase,
    copy_started_at_ms: m.copyStartedAtMs,
    started_at: m.startedAt,
  };
}

export class DiskMigrationsRepository {
  constructor(private readonly db: Kysely<DatabaseSchema>) {}

  async get(instanceId: string): Promise<DiskMigrationRecord | null> {
    const r = await this.db.selectFrom('disk_migrations').selectAll().where('instance_id', '=', instanceId).executeTakeFirst();
    return r ? toRecord(r) : null;
  }

  async list(): Promise<DiskMigrationRecord[]> {
    const rows = await this.db.selectFrom('disk_migrations').selectAll().orderBy('started_at').execute();
    return rows.map(toRecord);
  }

  async save(record: DiskMigrationRecord): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await saveIn(trx, record);
    });
  }

  /** Records the new disk as an orphan of the deployment and the migration as copying, atomically. */
  async recordNewDisk(record: DiskMigrationRecord & { newDiskCid: string }): Promise<void> {
    const now = new Date().toISOString();
    await this.db.transaction().execute(async (trx) => {
      await trx
        .insertInto('disks')
        .values({
          cid: record.newDiskCid,
          size_mib: record.newSizeMiB,
          instance_id: null,
          deployment: record.deployment,
          state: 'orphaned',
          hint_json: null,
          created_at: now,
          orphaned_at: now,
          mounted_before: 0,
        })
        .execute();
      await saveIn(trx, record);
    });
  }

  /** The swap: the new disk becomes the instance's active disk, the old one an orphan (still to detach). */
  async commitSwap(record: DiskMigrationRecord & { newDiskCid: string }, newHintJson: string | null): Promise<void> {
    const now = new Date().toISOString();
    await this.db.transaction().execute(async (trx) => {
      await trx
        .updateTable('disks')
        .set({ state: 'active', instance_id: record.instanceId, orphaned_at: null, hint_json: newHintJson, mounted_before: 1 })
        .where('cid', '=', record.newDiskCid)
        .execute();
      await trx
        .updateTable('disks')
        .set({ state: 'orphaned', instance_id: null, hint_json: null, orphaned_at: now })
        .where('cid', '=', record.oldDiskCid)
        .execute();
      await saveIn(trx, { ...record, phase: 'committed' });
    });
  }

  /** The migration was rolled back (or finished): its row goes (the new disk, if any, stays an orphan). */
  async forget(instanceId: string): Promise<void> {
    await this.db.deleteFrom('disk_migrations').where('instance_id', '=', instanceId).execute();
  }

  /** Disk cids some unfinished migration still uses (never deleted by the orphan sweep or delete-disk). */
  async inUse(): Promise<Set<string>> {
    const out = new Set<string>();
    for (const m of await this.list()) {
      out.add(m.oldDiskCid);
      if (m.newDiskCid !== null) out.add(m.newDiskCid);
    }
    return out;
  }
}

async function saveIn(trx: Kysely<DatabaseSchema>, record: DiskMigrationRecord): Promise<void> {
  const row = toRow(record);
  const { instance_id: _id, ...rest } = row;
  const updated = await trx.updateTable('disk_migrations').set(rest).where('instance_id', '=', record.instanceId).executeTakeFirst();
  if (Number(updated.numUpdatedRows) === 0) await trx.insertInto('disk_migrations').values(row).execute();
}
