import type { Kysely } from 'kysely';
import type { DiskHint } from '../../common/contracts/disk-hint.js';
import type { DatabaseSchema, DisksTable } from '../schema.js';

export type DiskState = 'active' | 'orphaned';

export interface DiskRecord {
  cid: string;
  sizeMiB: number;
  instanceId: string | null;
  deployment: string | null;
  state: DiskState;
  hint: DiskHint | null;
  createdAt: string;
  orphanedAt: string | null;
  /** True once the director saw it mounted by an agent: it may hold data and is never formatted. */
  mountedBefore: boolean;
}

function toRecord(r: DisksTable): DiskRecord {
  return {
    cid: r.cid,
    sizeMiB: r.size_mib,
    instanceId: r.instance_id,
    deployment: r.deployment,
    state: r.state === 'orphaned' ? 'orphaned' : 'active',
    hint: r.hint_json === null ? null : (JSON.parse(r.hint_json) as DiskHint),
    createdAt: r.created_at,
    orphanedAt: r.orphaned_at,
    mountedBefore: Number(r.mounted_before) !== 0,
  };
}

export class DisksRepository {
  constructor(private readonly db: Kysely<DatabaseSchema>) {}

  async create(d: { cid: string; sizeMiB: number; instanceId: string; deployment: string }): Promise<DiskRecord> {
    const row: DisksTable = {
      cid: d.cid,
      size_mib: d.sizeMiB,
      instance_id: d.instanceId,
      deployment: d.deployment,
      state: 'active',
      hint_json: null,
      created_at: new Date().toISOString(),
      orphaned_at: null,
      mounted_before: 0,
    };
    await this.db.insertInto('disks').values(row).execute();
    return toRecord(row);
  }

  async get(cid: string): Promise<DiskRecord | undefined> {
    const r = await this.db.selectFrom('disks').selectAll().where('cid', '=', cid).executeTakeFirst();
    return r && toRecord(r);
  }

  async activeForInstance(instanceId: string): Promise<DiskRecord[]> {
    const rows = await this.db
      .selectFrom('disks')
      .selectAll()
      .where('instance_id', '=', instanceId)
      .where('state', '=', 'active')
      .orderBy('created_at')
      .execute();
    return rows.map(toRecord);
  }

  async list(options: { deployment?: string; orphaned?: boolean } = {}): Promise<DiskRecord[]> {
    let q = this.db.selectFrom('disks').selectAll();
    if (options.deployment !== undefined) q = q.where('deployment', '=', options.deployment);
    if (options.orphaned !== undefined) q = q.where('state', '=', options.orphaned ? 'orphaned' : 'active');
    const rows = await q.orderBy('created_at').execute();
    return rows.map(toRecord);
  }

  async setHint(cid: string, hint: DiskHint | null): Promise<void> {
    await this.db.updateTable('disks').set({ hint_json: hint === null ? null : JSON.stringify(hint) }).where('cid', '=', cid).execute();
  }

  /** An agent mounted the disk: from now on it may hold data, and no agent is told it may format it. */
  async markMounted(cid: string): Promise<void> {
    await this.db.updateTable('disks').set({ mounted_before: 1 }).where('cid', '=', cid).where('mounted_before', '=', 0).execute();
  }

  /** After a grow in place. */
  async setSize(cid: string, sizeMiB: number): Promise<void> {
    await this.db.updateTable('disks').set({ size_mib: sizeMiB }).where('cid', '=', cid).execute();
  }

  /** The disk stays in the cloud (and keeps its deployment for `disks --orphaned`), but belongs to no instance. */
  async orphan(cid: string): Promise<void> {
    await this.db
      .updateTable('disks')
      .set({ state: 'orphaned', instance_id: null, hint_json: null, orphaned_at: new Date().toISOString() })
      .where('cid', '=', cid)
      .execute();
  }

  async delete(cid: string): Promise<void> {
    await this.db.deleteFrom('disks').where('cid', '=', cid).execute();
  }
}
