import type { Kysely } from 'kysely';
import type { CloudConfigsTable, DatabaseSchema } from '../schema.js';

/** One uploaded version of the cloud config; the newest is the current one. */
export interface CloudConfigRecord {
  id: number;
  text: string;
  user: string;
  createdAt: string;
}

const toRecord = (r: Omit<CloudConfigsTable, 'id'> & { id: number }): CloudConfigRecord => ({ id: r.id, text: r.text, user: r.user_name, createdAt: r.created_at });

export class CloudConfigsRepository {
  constructor(private readonly db: Kysely<DatabaseSchema>) {}

  /** The current cloud config, or undefined when none was ever uploaded. */
  async latest(): Promise<CloudConfigRecord | undefined> {
    const r = await this.db.selectFrom('cloud_configs').selectAll().orderBy('id', 'desc').limit(1).executeTakeFirst();
    return r && toRecord(r);
  }

  async add(text: string, user: string): Promise<CloudConfigRecord> {
    const createdAt = new Date().toISOString();
    const r = await this.db.insertInto('cloud_configs').values({ text, user_name: user, created_at: createdAt }).returning('id').executeTakeFirstOrThrow();
    return { id: r.id, text, user, createdAt };
  }
}
