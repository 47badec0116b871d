/**
 * The agent's `migrate_disk` action: copies the store disk to the disk mounted at the migration
 * target (src/agent/disks/migrate.ts does the copying). The director drives the sequence (bulk copy
 * while the containers run → stop → delta + verify → swap the mounts); this action only copies and
 * refuses anything unsafe: both directories must be mount points of different filesystems, so that
 * a copy never fills the VM's root filesystem, and one migration runs at a time.
 */
import { readFile } from 'node:fs/promises';
import { ConflictError, InvalidInputError } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';
import type { MigrateDiskProgress, MigrateDiskRequest, MigrateDiskResult } from '../protocol.js';
import { checkFits, copyDelta, copyFinalDelta, copyTree } from './migrate.js';

export type MigrateDisk = (
  request: MigrateDiskRequest,
  onProgress?: (p: MigrateDiskProgress) => void,
) => Promise<MigrateDiskResult>;

export function createMigrateDiskAction(
  dirs: { store: string; migration: string },
  log: Logger,
): MigrateDisk {
  let running = false;
  return async (request, onProgress) => {
    if (request.phase !== 'copy' && request.phase !== 'sync' && request.phase !== 'delta') {
      throw new InvalidInputError(
        `migrate_disk needs "phase": "copy", "sync" or "delta", not ${JSON.stringify(request.phase)}.`,
      );
    }
    if (running)
      throw new ConflictError('A disk migration is already running on this VM; wait for it to finish.');
    running = true;
    try {
      const mounts = await mountSources();
      const storeDev = mounts.get(dirs.store);
      const migrationDev = mounts.get(dirs.migration);
      if (storeDev === undefined)
        throw new ConflictError(
          `Cannot migrate the persistent disk: nothing is mounted at the store ${dirs.store}.`,
        );
      if (migrationDev === undefined) {
        throw new ConflictError(
          `Cannot migrate the persistent disk: the new disk is not mounted at ${dirs.migration}; mount it with target "migration" first.`,
        );
      }
      if (storeDev === migrationDev)
        throw new ConflictError(
          `Cannot migrate the persistent disk onto itself (${storeDev} is mounted at both targets).`,
        );
      const phase = request.phase;
      const report = (p: {
        bytesCopied: number;
        filesCopied: number;
        bytesTotal: number;
        filesTotal: number;
      }): void =>
        onProgress?.({
          phase,
          bytesCopied: p.bytesCopied,
          filesCopied: p.filesCopied,
          bytesTotal: p.bytesTotal,
          filesTotal: p.filesTotal,
        });
      // Slack for the kernel's coarse timestamps: a file changed just before this pass started counts as changed during it.
      const startedAtMs = Date.now() - 500;
      if (phase === 'copy') {
        await checkFits(dirs.store, dirs.migration);
        log.info('bulk copy of the persistent disk started', { from: storeDev, to: migrationDev });
        const stats = await copyTree(dirs.store, dirs.migration, { onProgress: report });
        log.info('bulk copy of the persistent disk done', { ...stats });
        return { ...stats, startedAtMs };
      }
      if (phase === 'sync') {
        const stats = await copyDelta(dirs.store, dirs.migration, {
          onProgress: report,
          checksumSinceMs: request.copyStartedAtMs ?? 0,
        });
        log.info('sync pass of the persistent disk done', { ...stats });
        return { ...stats, startedAtMs };
      }
      const { verified, ...stats } = await copyFinalDelta(
        dirs.store,
        dirs.migration,
        request.copyStartedAtMs ?? 0,
        { onProgress: report },
      );
      log.info('delta copy and verification of the persistent disk done', { ...stats, ...verified });
      return { ...stats, startedAtMs, verifiedFiles: verified.files, checksummedFiles: verified.checksummed };
    } finally {
      running = false;
    }
  };
}

/** Mount point → source device, from this mount namespace (the VM's). */
async function mountSources(): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const line of (await readFile('/proc/self/mountinfo', 'utf8')).split('\n')) {
    const parts = line.split(' ');
    const sep = parts.indexOf('-');
    const mountPoint = parts[4]?.replace(/\\040/g, ' ');
    const source = parts[sep + 2];
    if (mountPoint !== undefined && sep > 0 && source !== undefined) out.set(mountPoint, source);
  }
  return out;
}
