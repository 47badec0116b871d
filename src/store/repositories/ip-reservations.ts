import type { Kysely } from 'kysely';
import type { VmNetwork } from '../../cloud/cloud.js';
import type { DatabaseSchema, IpReservationsTable } from '../schema.js';

/** An address of a manual network owned by an instance, with the settings its VMs get on that network. */
export interface IpReservationRecord {
  network: string;
  address: string;
  instanceId: string;
  deployment: string;
  /** One of the group's static_ips (else allocated by the director). */
  static: boolean;
  settings: VmNetwork;
}

const toRecord = (r: IpReservationsTable): IpReservationRecord => ({
  network: r.network,
  address: r.address,
  instanceId: r.instance_id,
  deployment: r.deployment,
  static: r.static === 1,
  settings: JSON.parse(r.settings_json) as VmNetwork,
});

/** Addresses of manual networks, unique per network and address across every deployment. */
export class IpReservationsRepository {
  constructor(private readonly db: Kysely<DatabaseSchema>) {}

  async list(): Promise<IpReservationRecord[]> {
    const rows = await this.db.selectFrom('ip_reservations').selectAll().orderBy('network').orderBy('address').execute();
    return rows.map(toRecord);
  }

  async forInstance(instanceId: string): Promise<IpReservationRecord[]> {
    const rows = await this.db.selectFrom('ip_reservations').selectAll().where('instance_id', '=', instanceId).orderBy('network').execute();
    return rows.map(toRecord);
  }

  /**
   * Makes `wanted` the instance's reservations, in one transaction: the ones it keeps stay, the
   * others of the instance are released, the new ones are inserted (an address another instance
   * holds fails the whole change on the primary key).
   */
  async replaceForInstance(instanceId: string, wanted: Array<Omit<IpReservationRecord, 'instanceId'>>): Promise<void> {
    await this.db.transaction().execute(async (tx) => {
      const have = (await tx.selectFrom('ip_reservations').selectAll().where('instance_id', '=', instanceId).execute()).map(toRecord);
      const key = (r: { network: string; address: string }): string => `${r.network} ${r.address}`;
      const same = (a: Omit<IpReservationRecord, 'instanceId'>, b: IpReservationRecord): boolean =>
        a.static === b.static && a.deployment === b.deployment && JSON.stringify(a.settings) === JSON.stringify(b.settings);
      const keep = new Set(wanted.filter((w) => have.some((h) => key(h) === key(w) && same(w, h))).map(key));
      for (const h of have) {
        if (keep.has(key(h))) continue;
        await tx.deleteFrom('ip_reservations').where('network', '=', h.network).where('address', '=', h.address).where('instance_id', '=', instanceId).execute();
      }
      const createdAt = new Date().toISOString();
      for (const w of wanted) {
        if (keep.has(key(w))) continue;
        await tx
          .insertInto('ip_reservations')
          .values({
            network: w.network,
            address: w.address,
            instance_id: instanceId,
            deployment: w.deployment,
            static: w.static ? 1 : 0,
            settings_json: JSON.stringify(w.settings),
            created_at: createdAt,
          })
          .execute();
      }
    });
  }

  /** Frees every address of the instance (it is deleted): another deployment may take them at once. */
  async releaseInstance(instanceId: string): Promise<void> {
    await this.db.deleteFrom('ip_reservations').where('instance_id', '=', instanceId).execute();
  }

  async releaseDeployment(deployment: string): Promise<void> {
    await this.db.deleteFrom('ip_reservations').where('deployment', '=', deployment).execute();
  }
}
