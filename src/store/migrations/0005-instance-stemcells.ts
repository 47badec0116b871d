/**
 * Each instance remembers the stemcell (name and version) its VM booted: a deploy compares it with
 * the manifest's stemcell (a change recreates the VM), and a replacement VM of the resurrector,
 * recreate or cloud-check boots the same one. Kept on the instance, not on the VM row, because it
 * must outlive the VM it describes: the resurrector deletes a lost VM before creating the next.
 * Filled from vm_stemcells for VMs that exist already. Safe to re-run after a crash part-way.
 */
import { sql } from 'kysely';
import type { Kysely, Migration } from 'kysely';

export const instanceStemcells: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    const instances = (await db.introspection.getTables()).find((t) => t.name === 'instances');
    for (const column of ['stemcell_name', 'stemcell_version']) {
      if (instances?.columns.some((c) => c.name === column) !== true) {
        await db.schema.alterTable('instances').addColumn(column, 'text').execute();
      }
    }
    await sql`
      update instances set
        stemcell_name = (select s.name from vm_stemcells v join stemcells s on s.cid = v.stemcell_cid where v.vm_cid = instances.vm_cid),
        stemcell_version = (select s.version from vm_stemcells v join stemcells s on s.cid = v.stemcell_cid where v.vm_cid = instances.vm_cid)
      where vm_cid is not null and stemcell_name is null`.execute(db);
  },
  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.alterTable('instances').dropColumn('stemcell_version').execute();
    await db.schema.alterTable('instances').dropColumn('stemcell_name').execute();
  },
};
