/**
 * The agent's `migrate_disk` action: copies the store disk to the disk mounted at the migration
 * target (src/agent/disks/migrate.ts does the copying), and swaps the two. The director drives the
 * sequence (bulk copy while the containers run → catch-up → stop → delta + verify → swap); this
 * action refuses anything unsafe: both directories must be mount points of different disks (two
 * filesystems, or two directory disks bind-mounted from one filesystem), so that a copy never fills
 * the VM's root filesystem, and one migration runs at a time.
 */
import type { DiskHint } from '../../common/contracts/disk-hint.js';
import { ConflictError, InvalidInputError } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';
import type {
  LongActionOptions,
  MigrateDiskProgress,
  MigrateDiskRequest,
  MigrateDiskResult,
} from '../../common/contracts/agent-protocol.js';
import { checkFits, copyDelta, copyFinalDelta, copyTree, type CopyProgress } from './migrate.js';
import { readMounts, type MountEntry } from './mountinfo.js';

export type MigrateDisk = (
  request: MigrateDiskRequest,
  options?: LongActionOptions<MigrateDiskProgress>,
) => Promise<MigrateDiskResult>;

/** What the migration needs of the agent's disk manager (DiskManager has it). */
export interface SwappableDisks {
  list(): Array<{ diskCid: string; hint: DiskHint; target: 'store' | 'migration' }>;
  /** Runs `fn` as the one disk operation in progress (no mount or unmount meanwhile). */
  exclusive<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T>;
  /** Mount and unmount for a caller that already holds `exclusive`. */
  locked: {
    unmount(diskCid: string): Promise<void>;
    mount(diskCid: string, hint: DiskHint, target: 'store' | 'migration'): Promise<void>;
  };
}

const PHASES = ['copy', 'sync', 'delta', 'swap'];

export function createMigrateDiskAction(
  dirs: { store: string; migration: string },
  log: Logger,
  disks?: SwappableDisks,
): MigrateDisk {
  let running = false;
  return async (request, options = {}) => {
    const { onProgress, signal } = options;
    if (!PHASES.includes(request.phase)) {
      throw new InvalidInputError(
        `migrate_disk needs "phase": one of ${PHASES.join(', ')}, not ${JSON.stringify(request.phase)}.`,
      );
    }
    if (running)
      throw new ConflictError('A disk migration is already running on this VM; wait for it to finish.');
    running = true;
    try {
      const exclusive = <T>(fn: () => Promise<T>): Promise<T> =>
        disks ? disks.exclusive(fn, signal) : fn();
      return await exclusive(() => migrate(request, signal, onProgress));
    } finally {
      running = false;
    }
  };

  async function migrate(
    request: MigrateDiskRequest,
    signal: AbortSignal | undefined,
    onProgress: ((p: MigrateDiskProgress) => void) | undefined,
  ): Promise<MigrateDiskResult> {
    if (request.phase === 'swap') {
      await swap(request, disks, log);
      return { bytesCopied: 0, filesCopied: 0, durationMs: 0 };
    }
    const mounts = await mountEntries();
    const storeMount = mounts.get(dirs.store);
    const migrationMount = mounts.get(dirs.migration);
    // A directory disk is a bind mount: two of them may share a filesystem (and its source), so a
    // mount is the source and the subtree it shows.
    const storeDev = storeMount && describeMount(storeMount);
    const migrationDev = migrationMount && describeMount(migrationMount);
    const sharedFilesystem = storeMount !== undefined && migrationMount !== undefined && storeMount.source === migrationMount.source;
    if (storeDev === undefined) {
      throw new ConflictError(
        `Cannot migrate the persistent disk: nothing is mounted at the store ${dirs.store}.`,
      );
    }
    if (migrationDev === undefined) {
      throw new ConflictError(
        `Cannot migrate the persistent disk: the new disk is not mounted at ${dirs.migration}; mount it with target "migration" first.`,
      );
    }
    if (storeDev === migrationDev) {
      throw new ConflictError(
        `Cannot migrate the persistent disk onto itself (${storeDev} is mounted at both targets).`,
      );
    }
    const phase = request.phase;
    const report = (p: CopyProgress): void => onProgress?.({ phase, ...p });
    // Slack for the kernel's coarse timestamps: a file changed just before this pass counts as changed during it.
    const startedAtMs = Date.now() - 500;
    if (phase === 'copy') {
      await checkFits(dirs.store, dirs.migration, { sharedFilesystem });
      log.info('bulk copy of the persistent disk started', { from: storeDev, to: migrationDev });
      const stats = await copyTree(dirs.store, dirs.migration, { onProgress: report, sharedFilesystem, ...abortable(signal) });
      log.info('bulk copy of the persistent disk done', { ...stats });
      return { ...stats, startedAtMs };
    }
    if (phase === 'sync') {
      const since = request.copyStartedAtMs ?? 0;
      const stats = await copyDelta(dirs.store, dirs.migration, {
        onProgress: report,
        checksumSinceMs: since,
        ...abortable(signal),
      });
      log.info('catch-up pass of the persistent disk done', { ...stats });
      return { ...stats, startedAtMs };
    }
    const since = request.copyStartedAtMs ?? 0;
    const { verified, ...stats } = await copyFinalDelta(dirs.store, dirs.migration, since, {
      onProgress: report,
      ...abortable(signal),
    });
    log.info('delta copy and verification of the persistent disk done', { ...stats, ...verified });
    return { ...stats, startedAtMs, verifiedFiles: verified.files, checksummedFiles: verified.checksummed };
  }
}

/**
 * The swap of a resize by copy, with the containers stopped: the old disk leaves the store, the new
 * one moves from the migration target to the store. Idempotent: a repeated swap finds it done.
 */
async function swap(
  request: MigrateDiskRequest,
  disks: SwappableDisks | undefined,
  log: Logger,
): Promise<void> {
  const { oldDiskCid, newDiskCid } = request;
  if (!disks)
    throw new InvalidInputError(
      'This agent cannot swap disks in migrate_disk; use unmount_disk and mount_disk.',
    );
  if (!oldDiskCid || !newDiskCid)
    throw new InvalidInputError('migrate_disk "swap" needs "oldDiskCid" and "newDiskCid".');
  const fresh = disks.list().find((d) => d.diskCid === newDiskCid);
  if (!fresh) {
    throw new ConflictError(
      `Cannot swap to disk ${newDiskCid}: it is not mounted on this VM; mount it at the migration target first.`,
    );
  }
  if (fresh.target === 'store') return;
  // Not cancellable half-way: once started, the three mount operations run to their end.
  await disks.locked.unmount(oldDiskCid);
  await disks.locked.unmount(newDiskCid);
  await disks.locked.mount(newDiskCid, fresh.hint, 'store');
  log.info('persistent disks swapped', { oldDiskCid, newDiskCid });
}

/** Mount point → its topmost mount. */
async function mountEntries(): Promise<Map<string, MountEntry>> {
  const out = new Map<string, MountEntry>();
  for (const m of await readMounts()) out.set(m.mountPoint, m);
  return out;
}

function describeMount(m: MountEntry): string {
  return m.root === '/' ? m.source : `${m.source}:${m.root}`;
}

function abortable(signal: AbortSignal | undefined): { signal?: AbortSignal } {
  return signal ? { signal } : {};
}
