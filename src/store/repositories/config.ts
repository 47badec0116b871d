import type { Kysely } from 'kysely';
import type { DatabaseSchema } from '../schema.js';

/** Small director-wide settings (director uuid, global resurrection flag). */
export class ConfigRepository {
  constructor(private readonly db: Kysely<DatabaseSchema>) {}

  async get(key: string): Promise<string | undefined> {
    const r = await this.db.selectFrom('config').select('value').where('key', '=', key).executeTakeFirst();
    return r?.value;
  }

  async set(key: string, value: string): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      const updated = await trx.updateTable('config').set({ value }).where('key', '=', key).executeTakeFirst();
      if (Number(updated.numUpdatedRows) === 0) await trx.insertInto('config').values({ key, value }).execute();
    });
  }
}
