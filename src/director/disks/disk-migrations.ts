/**
 * The persisted state of a disk resize by copy, so that a re-run after a director or agent crash
 * knows which disk is authoritative. Kept in the `config` table under `disk_migration:<instance>`
 * (one small JSON document per instance: no schema change needed), next to the `disks` rows it
 * changes in the same transactions.
 *
 * The rule: the OLD disk is the instance's active disk until `commitSwap` flips both rows in one
 * transaction. The new disk is recorded as an orphan the moment it exists, so whatever happens
 * before the commit, it is never mistaken for the instance's data and is never lost track of.
 */
import type { Kysely } from 'kysely';
import type { DatabaseSchema } from '../../store/schema.js';

export interface DiskMigrationRecord {
  instanceId: string;
  deployment: string;
  /** The VM the new disk was attached to (a re-run may find the instance on another VM). */
  vmCid: string;
  oldDiskCid: string;
  newDiskCid: string | null;
  newSizeMiB: number;
  /**
   * creating: before/while createDisk; copying: new disk attached, bulk copy; stopped: containers
   * stopped, delta/verify/swap; committed: the new disk is the active one, the old disk still has to
   * be detached from `vmCid`.
   */
  phase: 'creating' | 'copying' | 'stopped' | 'committed';
  copyStartedAtMs: number | null;
  startedAt: string;
}

const key = (instanceId: string): string => `disk_migration:${instanceId}`;

export class DiskMigrations {
  constructor(private readonly db: Kysely<DatabaseSchema>) {}

  async get(instanceId: string): Promise<DiskMigrationRecord | null> {
    const r = await this.db
      .selectFrom('config')
      .select('value')
      .where('key', '=', key(instanceId))
      .executeTakeFirst();
    return r ? (JSON.parse(r.value) as DiskMigrationRecord) : null;
  }

  async list(): Promise<DiskMigrationRecord[]> {
    const rows = await this.db
      .selectFrom('config')
      .select('value')
      .where('key', 'like', 'disk_migration:%')
      .execute();
    return rows.map((r) => JSON.parse(r.value) as DiskMigrationRecord);
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
        })
        .execute();
      await saveIn(trx, record);
    });
  }

  /** The swap: the new disk becomes the instance's active disk, the old one an orphan (still to detach). */
  async commitSwap(
    record: DiskMigrationRecord & { newDiskCid: string },
    newHintJson: string | null,
  ): Promise<void> {
    const now = new Date().toISOString();
    await this.db.transaction().execute(async (trx) => {
      await trx
        .updateTable('disks')
        .set({ state: 'active', instance_id: record.instanceId, orphaned_at: null, hint_json: newHintJson })
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

  /** The migration was rolled back (or finished): its record goes (the new disk, if any, stays an orphan). */
  async forget(instanceId: string): Promise<void> {
    await this.db.deleteFrom('config').where('key', '=', key(instanceId)).execute();
  }

  /** After a grow in place. */
  async setSize(diskCid: string, sizeMiB: number): Promise<void> {
    await this.db.updateTable('disks').set({ size_mib: sizeMiB }).where('cid', '=', diskCid).execute();
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
  const value = JSON.stringify(record);
  const updated = await trx
    .updateTable('config')
    .set({ value })
    .where('key', '=', key(record.instanceId))
    .executeTakeFirst();
  if (Number(updated.numUpdatedRows) === 0)
    await trx
      .insertInto('config')
      .values({ key: key(record.instanceId), value })
      .execute();
}
