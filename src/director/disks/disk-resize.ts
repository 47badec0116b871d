/**
 * Resizing an instance's persistent disk without losing data: the entry point. Grows in place when
 * the cloud can (grow-in-place.ts), otherwise copies to a new disk (resize-by-copy.ts); a directory
 * disk (directory-disk.ts: warden/docker-style CPIs) always by copy, it has no size to grow; first
 * finishes whatever an interrupted earlier resize left (resize-recovery.ts).
 */
import { NotSupportedError } from '../../cloud/cloud.js';
import type { DiskRecord } from '../../store/store.js';
import type { TaskContext } from '../tasks/task-context.js';
import { isDirectoryHint } from './directory-disk.js';
import { growInPlace } from './grow-in-place.js';
import { copyToNewDisk } from './resize-by-copy.js';
import { recoverDiskMigration } from './resize-recovery.js';
import type { DiskResizeDeps, DiskResizeTarget } from './resize-steps.js';

export type { DiskResizeDeps, DiskResizeTarget } from './resize-steps.js';
export { recoverDiskMigration } from './resize-recovery.js';

/**
 * Brings `disk` (the instance's active disk, attached or not) to `wantedMiB`. Returns the instance's
 * active disk afterwards (a new record after a copy). The containers run afterwards unless the
 * instance is stopped on purpose.
 */
export async function resizePersistentDisk(
  deps: DiskResizeDeps,
  ctx: TaskContext,
  target: DiskResizeTarget,
  disk: DiskRecord,
  wantedMiB: number,
): Promise<DiskRecord> {
  await recoverDiskMigration(deps, ctx, target);
  if (disk.sizeMiB === wantedMiB) return disk;
  const info = await deps.cloud.info();
  if (wantedMiB > disk.sizeMiB && info.supportsResizeDisk && !isDirectoryHint(disk.hint)) {
    try {
      return await growInPlace(deps, ctx, target, disk, wantedMiB);
    } catch (err) {
      if (!(err instanceof NotSupportedError)) throw err;
      ctx.logger.info('the cloud cannot grow this disk in place; copying to a new disk instead', { disk: disk.cid });
    }
  }
  return copyToNewDisk(deps, ctx, target, disk, wantedMiB);
}
