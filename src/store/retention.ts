/**
 * Retention: what the director keeps of its history. Finished tasks (with their events), alerts
 * and audit events are deleted once they are older than `maxAgeMs` or beyond the newest
 * `max…` of their kind, at start-up and then periodically; a running or queued task is never
 * touched. Without it every task event, alert and audit event is kept forever and the database
 * grows with every heartbeat-triggered alert and every deploy.
 */
import type { Kysely } from 'kysely';
import type { TaskState } from '../common/contracts/api.js';
import { errorMessage } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import type { DatabaseSchema } from './schema.js';

export interface RetentionPolicy {
  /** Finished tasks, alerts and audit events older than this are deleted. */
  maxAgeMs: number;
  /** At most this many finished tasks (the newest) are kept, with their events. */
  maxTasks: number;
  maxAlerts: number;
  maxAuditEvents: number;
}

export const DEFAULT_RETENTION: RetentionPolicy = {
  maxAgeMs: 30 * 24 * 3600_000,
  maxTasks: 2000,
  maxAlerts: 10_000,
  maxAuditEvents: 10_000,
};

export interface PruneResult {
  tasks: number;
  alerts: number;
  auditEvents: number;
}

const FINISHED: TaskState[] = ['done', 'error', 'cancelled'];
/** Rows deleted per statement: keeps each write transaction (and SQLite's lock) short. */
const BATCH = 500;
/** "No limit" for LIMIT … OFFSET, which SQLite and PostgreSQL both need a number for. */
const ALL = Number.MAX_SAFE_INTEGER;

/** Deletes what the policy no longer keeps; returns how many rows of each kind went. */
export async function pruneHistory(
  db: Kysely<DatabaseSchema>,
  policy: RetentionPolicy,
  now = Date.now(),
): Promise<PruneResult> {
  const cutoff = new Date(now - policy.maxAgeMs).toISOString();

  const oldTasks = await db
    .selectFrom('tasks')
    .select('id')
    .where('state', 'in', FINISHED)
    .where((eb) => eb.or([eb('ended_at', '<', cutoff), eb.and([eb('ended_at', 'is', null), eb('created_at', '<', cutoff)])]))
    .execute();
  const surplusTasks = await db
    .selectFrom('tasks')
    .select('id')
    .where('state', 'in', FINISHED)
    .orderBy('id', 'desc')
    .limit(ALL)
    .offset(policy.maxTasks)
    .execute();
  const taskIds = [...new Set([...oldTasks, ...surplusTasks].map((r) => r.id))];
  for (let i = 0; i < taskIds.length; i += BATCH) {
    const ids = taskIds.slice(i, i + BATCH);
    await db.transaction().execute(async (tx) => {
      await tx.deleteFrom('task_events').where('task_id', 'in', ids).execute();
      await tx.deleteFrom('tasks').where('id', 'in', ids).execute();
    });
  }

  const surplusAlerts = await db
    .selectFrom('alerts')
    .select('id')
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(ALL)
    .offset(policy.maxAlerts)
    .execute();
  let alerts = Number((await db.deleteFrom('alerts').where('created_at', '<', cutoff).executeTakeFirst()).numDeletedRows);
  const alertIds = surplusAlerts.map((r) => r.id);
  for (let i = 0; i < alertIds.length; i += BATCH) {
    const r = await db.deleteFrom('alerts').where('id', 'in', alertIds.slice(i, i + BATCH)).executeTakeFirst();
    alerts += Number(r.numDeletedRows);
  }

  let auditEvents = Number((await db.deleteFrom('audit_events').where('time', '<', cutoff).executeTakeFirst()).numDeletedRows);
  const keepFrom = await db
    .selectFrom('audit_events')
    .select('id')
    .orderBy('id', 'desc')
    .limit(1)
    .offset(policy.maxAuditEvents)
    .executeTakeFirst();
  if (keepFrom !== undefined) {
    const r = await db.deleteFrom('audit_events').where('id', '<=', keepFrom.id).executeTakeFirst();
    auditEvents += Number(r.numDeletedRows);
  }

  return { tasks: taskIds.length, alerts, auditEvents };
}

/**
 * Prunes once now (start-up) and then every `intervalMs` (unref'd: it never keeps the process
 * alive). A failed round is logged and retried at the next one.
 */
export function startHistoryPruner(
  db: Kysely<DatabaseSchema>,
  policy: RetentionPolicy,
  options: { intervalMs: number; logger: Logger },
): { stop(): Promise<void>; done: Promise<void> } {
  let running: Promise<void> | null = null;
  const round = (): Promise<void> => {
    if (running !== null) return running;
    running = pruneHistory(db, policy)
      .then((r) => {
        if (r.tasks + r.alerts + r.auditEvents > 0) options.logger.info('pruned old history', { ...r });
      })
      .catch((err: unknown) => options.logger.warn('pruning old history failed; the next round retries', { error: errorMessage(err) }))
      .finally(() => {
        running = null;
      });
    return running;
  };
  const done = round();
  const timer = setInterval(() => void round(), options.intervalMs);
  timer.unref();
  return {
    /** Stops the timer and waits for a round that is running (the store may close after it). */
    stop: async () => {
      clearInterval(timer);
      await running;
    },
    done,
  };
}
