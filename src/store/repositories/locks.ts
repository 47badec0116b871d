import type { Kysely } from 'kysely';
import type { LockInfo } from '../../common/contracts/api.js';
import type { DatabaseSchema } from '../schema.js';

export class LocksRepository {
  constructor(private readonly db: Kysely<DatabaseSchema>) {}

  /**
   * Takes the lock for the task, or returns the current holder. Check and insert run in one
   * transaction; an expired lock (its director died without releasing it) is taken over.
   */
  async acquire(name: string, taskId: number, ttlMs: number): Promise<{ acquired: true } | { acquired: false; holder: LockInfo }> {
    return this.db.transaction().execute(async (trx) => {
      const now = new Date();
      const current = await trx.selectFrom('locks').selectAll().where('name', '=', name).executeTakeFirst();
      if (current !== undefined && current.task_id !== taskId && current.expires_at > now.toISOString()) {
        return { acquired: false as const, holder: { name: current.name, taskId: current.task_id, expiresAt: current.expires_at } };
      }
      const expiresAt = new Date(now.getTime() + ttlMs).toISOString();
      if (current !== undefined) {
        await trx.updateTable('locks').set({ task_id: taskId, expires_at: expiresAt }).where('name', '=', name).execute();
      } else {
        await trx.insertInto('locks').values({ name, task_id: taskId, expires_at: expiresAt }).execute();
      }
      return { acquired: true as const };
    });
  }

  /**
   * Extends the task's lock. Returns false when the task no longer holds it: the row is gone,
   * another task took it, or it expired (from then on other tasks and the health monitor treat the
   * deployment as unlocked, so an expired lock is lost even when nobody has taken it yet).
   */
  async renew(name: string, taskId: number, ttlMs: number): Promise<boolean> {
    const now = new Date();
    const r = await this.db
      .updateTable('locks')
      .set({ expires_at: new Date(now.getTime() + ttlMs).toISOString() })
      .where('name', '=', name)
      .where('task_id', '=', taskId)
      .where('expires_at', '>', now.toISOString())
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  async release(name: string, taskId: number): Promise<void> {
    await this.db.deleteFrom('locks').where('name', '=', name).where('task_id', '=', taskId).execute();
  }

  async releaseAllOfTasks(taskIds: number[]): Promise<void> {
    if (taskIds.length === 0) return;
    await this.db.deleteFrom('locks').where('task_id', 'in', taskIds).execute();
  }

  /**
   * The locks held now: the one definition of "locked" (acquire takes over an expired lock, renew
   * reports it lost), used by `bosun locks`, the task runner and the health monitor alike.
   */
  async list(now: Date = new Date()): Promise<LockInfo[]> {
    const rows = await this.db.selectFrom('locks').selectAll().where('expires_at', '>', now.toISOString()).orderBy('name').execute();
    return rows.map((r) => ({ name: r.name, taskId: r.task_id, expiresAt: r.expires_at }));
  }
}
