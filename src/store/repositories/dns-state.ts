import type { Kysely } from 'kysely';
import type { DatabaseSchema } from '../schema.js';

/** The DNS record set as last saved: its version and its JSON (parsed by the director's DNS part). */
export interface DnsStateRecord {
  version: number;
  setJson: string;
}

const ROW_ID = 1;

/** The one row of service discovery's state: versions survive director restarts. */
export class DnsStateRepository {
  constructor(private readonly db: Kysely<DatabaseSchema>) {}

  async get(): Promise<DnsStateRecord | undefined> {
    const r = await this.db.selectFrom('dns_state').select(['version', 'set_json']).where('id', '=', ROW_ID).executeTakeFirst();
    return r && { version: Number(r.version), setJson: r.set_json };
  }

  /** Saves a new version; refuses to go back (a version is never reused). */
  async save(version: number, setJson: string): Promise<void> {
    const now = new Date().toISOString();
    await this.db.transaction().execute(async (trx) => {
      const current = await trx.selectFrom('dns_state').select('version').where('id', '=', ROW_ID).executeTakeFirst();
      if (current === undefined) {
        await trx.insertInto('dns_state').values({ id: ROW_ID, version, set_json: setJson, updated_at: now }).execute();
        return;
      }
      if (Number(current.version) >= version) {
        throw new Error(`DNS record set version ${version} is not newer than the saved version ${String(current.version)}`);
      }
      await trx.updateTable('dns_state').set({ version, set_json: setJson, updated_at: now }).where('id', '=', ROW_ID).execute();
    });
  }
}
