/**
 * Orphaned disks (left by a resize by copy, a scale-down or a deleted deployment) are kept for a
 * retention period (default 5 days, BOSH's) so that an operator can still recover data from them,
 * then deleted by a periodic sweep — each deletion is an ordinary `delete disk` task, visible in
 * `bosun tasks`. A disk an unfinished resize still uses is never swept.
 */
import { errorMessage } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';
import type { Store } from '../../store/store.js';

export const DEFAULT_ORPHANED_DISK_RETENTION_MS = 5 * 24 * 3600_000;

export interface OrphanSweepDeps {
  store: Store;
  /** Deletes one orphaned disk (the director's delete-disk task). */
  deleteDisk(diskCid: string): Promise<unknown>;
  logger: Logger;
}

/** Deletes the orphans older than `retentionMs`; returns the cids it asked to delete. */
export async function sweepOrphanedDisks(
  deps: OrphanSweepDeps,
  retentionMs: number,
  now = Date.now(),
): Promise<string[]> {
  const inUse = await deps.store.diskMigrations.inUse();
  const expired = (await deps.store.disks.list({ orphaned: true })).filter(
    (d) => d.orphanedAt !== null && now - Date.parse(d.orphanedAt) >= retentionMs && !inUse.has(d.cid),
  );
  const deleted: string[] = [];
  for (const d of expired) {
    try {
      await deps.deleteDisk(d.cid);
      deleted.push(d.cid);
    } catch (err) {
      deps.logger.warn('could not delete an expired orphaned disk; the next sweep retries', {
        diskCid: d.cid,
        error: errorMessage(err),
      });
    }
  }
  if (deleted.length > 0)
    deps.logger.info('deleting expired orphaned disks', { diskCids: deleted, retentionMs });
  return deleted;
}

/** Runs the sweep every `intervalMs` (unref'd: it never keeps the process alive). */
export function startOrphanedDiskSweeper(
  deps: OrphanSweepDeps,
  options: { retentionMs: number; intervalMs: number },
): { stop(): void } {
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    sweepOrphanedDisks(deps, options.retentionMs)
      .catch((err: unknown) => deps.logger.warn('orphaned disk sweep failed', { error: errorMessage(err) }))
      .finally(() => {
        running = false;
      });
  }, options.intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
