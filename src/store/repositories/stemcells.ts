import type { Kysely } from 'kysely';
import type { DatabaseSchema, StemcellsTable } from '../schema.js';

export interface StemcellRecord {
  name: string;
  version: string;
  operatingSystem: string;
  apiVersion: number;
  formats: string[];
  sha1: string;
  cid: string;
  uploadedAt: string;
}

function toRecord(r: StemcellsTable): StemcellRecord {
  return {
    name: r.name,
    version: r.version,
    operatingSystem: r.operating_system,
    apiVersion: r.api_version,
    formats: JSON.parse(r.formats_json) as string[],
    sha1: r.sha1,
    cid: r.cid,
    uploadedAt: r.uploaded_at,
  };
}

export class StemcellsRepository {
  constructor(private readonly db: Kysely<DatabaseSchema>) {}

  async create(s: Omit<StemcellRecord, 'uploadedAt'>): Promise<StemcellRecord> {
    const row: StemcellsTable = {
      name: s.name,
      version: s.version,
      operating_system: s.operatingSystem,
      api_version: s.apiVersion,
      formats_json: JSON.stringify(s.formats),
      sha1: s.sha1,
      cid: s.cid,
      uploaded_at: new Date().toISOString(),
    };
    await this.db.insertInto('stemcells').values(row).execute();
    return toRecord(row);
  }

  async get(name: string, version: string): Promise<StemcellRecord | undefined> {
    const r = await this.db.selectFrom('stemcells').selectAll().where('name', '=', name).where('version', '=', version).executeTakeFirst();
    return r && toRecord(r);
  }

  async list(): Promise<StemcellRecord[]> {
    const rows = await this.db.selectFrom('stemcells').selectAll().orderBy('name').orderBy('uploaded_at').execute();
    return rows.map(toRecord);
  }

  async delete(name: string, version: string): Promise<void> {
    await this.db.deleteFrom('stemcells').where('name', '=', name).where('version', '=', version).execute();
  }

  /** VM cids created from each stemcell cid, for the VMs the director still records. */
  async vmsByStemcell(): Promise<Map<string, string[]>> {
    const rows = await this.db
      .selectFrom('vm_stemcells')
      .innerJoin('vms', 'vms.cid', 'vm_stemcells.vm_cid')
      .select(['vm_stemcells.vm_cid as vmCid', 'vm_stemcells.stemcell_cid as stemcellCid'])
      .orderBy('vm_stemcells.vm_cid')
      .execute();
    const result = new Map<string, string[]>();
    for (const r of rows) result.set(r.stemcellCid, [...(result.get(r.stemcellCid) ?? []), r.vmCid]);
    return result;
  }

  /** Records which stemcell a VM was created from (when createVm returns). */
  async setVmStemcell(vmCid: string, stemcellCid: string): Promise<void> {
    await this.db.deleteFrom('vm_stemcells').where('vm_cid', '=', vmCid).execute();
    await this.db.insertInto('vm_stemcells').values({ vm_cid: vmCid, stemcell_cid: stemcellCid }).execute();
  }

  async forgetVm(vmCid: string): Promise<void> {
    await this.db.deleteFrom('vm_stemcells').where('vm_cid', '=', vmCid).execute();
  }

  /** The stemcell cid a VM was created from, if the director recorded one. */
  async stemcellOfVm(vmCid: string): Promise<string | undefined> {
    const r = await this.db.selectFrom('vm_stemcells').select('stemcell_cid').where('vm_cid', '=', vmCid).executeTakeFirst();
    return r?.stemcell_cid;
  }
}
