/**
 * The addresses the director allocated from the cloud config's manual networks: one row per
 * network and address, owned by an instance (unique across every deployment of the director, so
 * that no two VMs are given one address), with the network settings the instance's VMs get
 * (netmask, gateway, dns, cloud_properties). And per instance the networks its VM was created
 * with, so that a deploy sees when an address or a network changed (the VM is recreated).
 * Safe to re-run after a crash part-way.
 */
import type { Kysely, Migration } from 'kysely';

export const ipReservations: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('ip_reservations')
      .ifNotExists()
      .addColumn('network', 'text', (c) => c.notNull())
      .addColumn('address', 'text', (c) => c.notNull())
      .addColumn('instance_id', 'text', (c) => c.notNull())
      .addColumn('deployment', 'text', (c) => c.notNull())
      .addColumn('static', 'integer', (c) => c.notNull())
      .addColumn('settings_json', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('ip_reservations_pk', ['network', 'address'])
      .execute();
    await db.schema.createIndex('ip_reservations_instance').ifNotExists().on('ip_reservations').column('instance_id').execute();
    const instances = (await db.introspection.getTables()).find((t) => t.name === 'instances');
    if (instances?.columns.some((c) => c.name === 'networks_json') !== true) {
      await db.schema.alterTable('instances').addColumn('networks_json', 'text').execute();
    }
  },
  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.alterTable('instances').dropColumn('networks_json').execute();
    await db.schema.dropTable('ip_reservations').ifExists().execute();
  },
};
