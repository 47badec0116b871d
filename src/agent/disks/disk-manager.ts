import { execFile } from 'node:child_process';
import { mkdir, realpath } from 'node:fs/promises';
import { isAbsolute, relative } from 'node:path';
import { promisify } from 'node:util';
import type { DiskHint } from '../../common/contracts/disk-hint.js';
import type { Logger } from '../../common/logger.js';
import { ConflictError, InternalError, NotFoundError, TimeoutError, errorMessage } from '../../common/errors.js';
import { Mutex } from '../../common/mutex.js';
import { sourceMountedAt } from './mountinfo.js';
import { systemMountOps, type MountOps } from './mount-ops.js';
import { describeHint, resolveDiskHint, type ResolveOptions } from './resolve-device.js';

const exec = promisify(execFile);

export interface MountedDisk {
  diskCid: string;
  hint: DiskHint;
  target: 'store' | 'migration';
  /** What the hint resolved to: a block device (ext4) or a directory bind-mounted (absent in old state files: a device). */
  kind?: 'device' | 'directory';
}

export interface DiskManagerOptions {
  /** Where devices are looked for (/dev, /sys roots, how long a new disk may take to appear). */
  resolve?: Omit<ResolveOptions, 'signal'>;
  /** The mount operations of directory disks and of every unmount (faked in unit tests). */
  mountOps?: MountOps;
}

export interface MountOptions {
  /**
   * The director says the disk is new (never mounted before): only then may a disk without a
   * filesystem be formatted. Otherwise a disk that shows no filesystem is refused untouched.
   */
  newDisk?: boolean;
  /** Aborting gives up while waiting for another disk operation; a started mount runs to its end. */
  signal?: AbortSignal;
}

/**
 * Mounts persistent disks at the store (or migration) directory: formats only a disk the director
 * says is new and that has no filesystem (never one that may hold data), and grows the filesystem
 * when the device grew. One disk operation at a time (mount, unmount, migrate): two mount_disk
 * calls for one device never run e2fsck or resize2fs side by side; the second waits, then finds
 * the disk mounted.
 *
 * The hint is resolved first (resolve-device.ts: a path, by-id links, a SCSI LUN), waiting for a
 * disk that has not appeared yet. A hint that names a directory (warden/docker-style CPIs bind a
 * host directory into the VM) is a directory disk: it is bind-mounted at the target, never
 * formatted or grown (it has no size of its own); unmounting unmounts the bind mount.
 */
export class DiskManager {
  private readonly mounted = new Map<string, MountedDisk>();
  private readonly lock = new Mutex();
  private readonly ops: MountOps;

  constructor(
    private readonly dirs: { store: string; migration: string },
    private readonly log: Logger,
    private readonly persist: (disks: MountedDisk[]) => Promise<void>,
    private readonly options: DiskManagerOptions = {},
  ) {
    this.ops = options.mountOps ?? systemMountOps;
  }

  list(): MountedDisk[] {
    return [...this.mounted.values()];
  }

  isStoreMounted(): boolean {
    return [...this.mounted.values()].some((d) => d.target === 'store');
  }

  /** Runs `fn` as the one disk operation in progress (the migration's copy passes and swap use it). */
  exclusive<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    return this.lock.run(fn, signal);
  }

  /** Re-mounts disks recorded in the state file that are not mounted (VM reboot); keeps the rest. */
  async restore(disks: MountedDisk[]): Promise<void> {
    await this.lock.run(async () => {
      for (const d of disks) {
        try {
          // Recorded disks were mounted before: never formatted here. One look for the device:
          // a disk that is not there any more must not hold up the agent's start.
          await this.mountLocked(d.diskCid, d.hint, d.target, false, false, 1);
        } catch (err) {
          this.log.error('cannot re-mount a recorded disk', { diskCid: d.diskCid, error: errorMessage(err) });
        }
      }
      await this.persist(this.list());
    });
  }

  async mount(diskCid: string, hint: DiskHint, target: 'store' | 'migration' = 'store', options: MountOptions = {}): Promise<void> {
    await this.lock.run(() => this.mountLocked(diskCid, hint, target, options.newDisk === true, true), options.signal);
  }

  async unmount(diskCid: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    await this.lock.run(() => this.unmountLocked(diskCid), options.signal);
  }

  /** For the migration's swap, which already holds the lock. */
  readonly locked = {
    mount: (diskCid: string, hint: DiskHint, target: 'store' | 'migration'): Promise<void> => this.mountLocked(diskCid, hint, target, false, true),
    unmount: (diskCid: string): Promise<void> => this.unmountLocked(diskCid),
  };

  private async mountLocked(
    diskCid: string,
    hint: DiskHint,
    target: 'store' | 'migration',
    newDisk: boolean,
    persist: boolean,
    timeoutMs?: number,
  ): Promise<void> {
    const resolveOptions = { ...this.options.resolve, ...(timeoutMs === undefined ? {} : { timeoutMs }) };
    let resolved: Awaited<ReturnType<typeof resolveDiskHint>>;
    try {
      resolved = await resolveDiskHint(hint, resolveOptions);
    } catch (err) {
      // Not there: the cloud did not attach it (here), or the hint is not what this VM sees.
      if (err instanceof TimeoutError || err instanceof NotFoundError) throw new NotFoundError(`Cannot mount disk ${diskCid}: ${err.message}`, { cause: err });
      throw err;
    }
    if (resolved.kind === 'directory') {
      await this.bindLocked(diskCid, hint, resolved.path, target, persist);
      return;
    }
    const dir = this.dirs[target];
    const device = resolved.device;
    if (device !== hint.path) this.log.info('disk hint resolved', { diskCid, hint: describeHint(hint), device });
    const current = await sourceMountedAt(dir);
    if (current) {
      if (await sameDevice(current, device)) {
        await this.grow(device, diskCid);
        this.mounted.set(diskCid, { diskCid, hint, target, kind: 'device' });
        if (persist) await this.persist(this.list());
        return;
      }
      throw new ConflictError(`Cannot mount disk ${diskCid} at ${dir}: ${current} is already mounted there; unmount that disk first.`);
    }
    for (const d of this.mounted.values()) {
      if (d.diskCid !== diskCid && d.target === target) this.mounted.delete(d.diskCid);
    }
    try {
      await exec('test', ['-b', device]);
    } catch {
      throw new NotFoundError(`Cannot mount disk ${diskCid}: its device ${device} does not exist on this VM; check that the cloud attached it.`);
    }
    const fsType = await filesystemOf(device);
    if (fsType === null && !newDisk) {
      throw new ConflictError(
        `Disk ${diskCid} (${device}) shows no filesystem, but it may hold data (it was mounted before, or the director did not say it is new), ` +
          `so bosun does not format it and wrote nothing to it. Check that the cloud attached the right disk at ${device}, ` +
          `then inspect it on the VM (\`blkid ${device}\`, \`dumpe2fs -h ${device}\`, \`e2fsck -n ${device}\`): a damaged superblock can often be repaired with \`e2fsck -b 32768 ${device}\`.`,
      );
    }
    if (fsType === null) {
      this.log.info('formatting a new disk', { diskCid, device });
      // No -F: mkfs refuses a device that is in use (mounted elsewhere) instead of overwriting it.
      await run('mkfs.ext4', ['-q', '-E', 'lazy_itable_init=1,lazy_journal_init=1', device], `format disk ${diskCid} (${device})`);
    } else if (fsType !== 'ext4') {
      throw new ConflictError(`Disk ${diskCid} (${device}) holds a ${fsType} filesystem, not ext4; bosun does not format disks that hold data. Attach the right disk.`);
    }
    if (fsType !== null) await this.growOffline(device, diskCid);
    await mkdir(dir, { recursive: true });
    await run('mount', ['-t', 'ext4', device, dir], `mount disk ${diskCid} (${device}) at ${dir}`);
    await this.grow(device, diskCid);
    this.mounted.set(diskCid, { diskCid, hint, target, kind: 'device' });
    if (persist) await this.persist(this.list());
    this.log.info('disk mounted', { diskCid, device, dir });
  }

  /** A directory disk: bind-mounted at the target; nothing to format, check or grow. */
  private async bindLocked(diskCid: string, hint: DiskHint, source: string, target: 'store' | 'migration', persist: boolean): Promise<void> {
    const dir = this.dirs[target];
    const current = await this.ops.mountAt(dir);
    if (current) {
      if (!(await this.ops.isBoundFrom(dir, source))) {
        throw new ConflictError(`Cannot mount the directory disk ${diskCid} (${source}) at ${dir}: ${current.source}${current.root === '/' ? '' : ` (${current.root})`} is already mounted there; unmount that disk first.`);
      }
    } else {
      if (isWithin(source, dir) || isWithin(dir, source)) {
        throw new ConflictError(`Cannot mount the directory disk ${diskCid} at ${dir}: its directory ${source} and ${dir} contain one another; the cloud must attach it outside the store.`);
      }
      for (const d of this.mounted.values()) {
        if (d.diskCid !== diskCid && d.target === target) this.mounted.delete(d.diskCid);
      }
      await mkdir(dir, { recursive: true });
      await this.ops.bind(source, dir);
      this.log.info('directory disk bind-mounted', { diskCid, source, dir });
    }
    this.mounted.set(diskCid, { diskCid, hint, target, kind: 'directory' });
    if (persist) await this.persist(this.list());
  }

  private async unmountLocked(diskCid: string): Promise<void> {
    const d = this.mounted.get(diskCid);
    if (!d) return; // unmounting a disk that is not mounted is a no-op (idempotent)
    const dir = this.dirs[d.target];
    if (await this.ops.mountAt(dir)) {
      try {
        await this.ops.unmount(dir);
      } catch (err) {
        const stderr = (err as { stderr?: string }).stderr?.trim() || errorMessage(err);
        if (/busy/i.test(stderr)) {
          throw new ConflictError(
            `Cannot unmount disk ${diskCid} from ${dir}: the filesystem is still in use (${stderr}). ` +
              `A process on the VM keeps files open there (\`fuser -vm ${dir}\` on the VM names it); the disk stays mounted and attached.`,
            { cause: err },
          );
        }
        throw new InternalError(`Could not unmount disk ${diskCid} from ${dir}: ${stderr}`, { cause: err });
      }
    }
    this.mounted.delete(diskCid);
    await this.persist(this.list());
    this.log.info('disk unmounted', { diskCid, dir });
  }

  /**
   * Offline grow before mounting (disk resize): online resize2fs needs CAP_SYS_RESOURCE, which
   * containerised hosts often lack ("Permission denied to resize filesystem"); offline it needs only
   * the device. resize2fs insists on a fresh fsck first; its time depends on the size, not the data.
   */
  private async growOffline(device: string, diskCid: string): Promise<void> {
    if (device.startsWith('/dev/loop')) await exec('losetup', ['-c', device]).catch(() => undefined);
    if (!(await deviceLargerThanFs(device))) return;
    this.log.info('growing the filesystem to the disk size before mounting', { diskCid, device });
    try {
      await exec('e2fsck', ['-f', '-p', device]);
    } catch (err) {
      // 1: errors corrected; anything else means the filesystem needs a person.
      if ((err as { code?: unknown }).code !== 1) throw new InternalError(`Could not check the filesystem of disk ${diskCid} (${device}) before growing it: ${errorMessage(err)}`, { cause: err });
    }
    await run('resize2fs', [device], `grow the filesystem of disk ${diskCid} (${device})`);
  }

  /** Online grow: the cloud enlarged the device; ext4 grows while mounted. */
  private async grow(device: string, diskCid: string): Promise<void> {
    if (device.startsWith('/dev/loop')) await exec('losetup', ['-c', device]).catch(() => undefined);
    if (await deviceLargerThanFs(device)) {
      this.log.info('growing the filesystem to the disk size', { diskCid, device });
      await run('resize2fs', [device], `grow the filesystem of disk ${diskCid} (${device})`);
    }
  }
}

/** True when the device has room for at least one more filesystem block. */
async function deviceLargerThanFs(device: string): Promise<boolean> {
  const deviceBytes = Number((await exec('blockdev', ['--getsize64', device])).stdout.trim());
  const info = (await exec('dumpe2fs', ['-h', device]).catch(() => ({ stdout: '' }))).stdout;
  const blocks = Number(/Block count:\s+(\d+)/.exec(info)?.[1] ?? 0);
  const blockSize = Number(/Block size:\s+(\d+)/.exec(info)?.[1] ?? 0);
  return blocks > 0 && blockSize > 0 && deviceBytes >= blocks * blockSize + blockSize;
}

async function run(cmd: string, args: string[], what: string): Promise<void> {
  try {
    await exec(cmd, args);
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr?.trim();
    throw new InternalError(`Could not ${what}: ${stderr || errorMessage(err)}`, { cause: err });
  }
}

/** The filesystem type on a device, or null when blkid finds none. */
async function filesystemOf(device: string): Promise<string | null> {
  try {
    const { stdout } = await exec('blkid', ['-o', 'value', '-s', 'TYPE', device]);
    return stdout.trim() || null;
  } catch (err) {
    if ((err as { code?: unknown }).code === 2) return null; // blkid: nothing found
    throw new InternalError(`Could not probe ${device} for a filesystem: ${errorMessage(err)}`, { cause: err });
  }
}

function isWithin(path: string, dir: string): boolean {
  const rel = relative(dir, path);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

async function sameDevice(a: string, b: string): Promise<boolean> {
  const ra = await realpath(a).catch(() => a);
  const rb = await realpath(b).catch(() => b);
  return ra === rb;
}
