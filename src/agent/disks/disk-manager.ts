import { execFile } from 'node:child_process';
import { mkdir, readFile } from 'node:fs/promises';
import { realpath } from 'node:fs/promises';
import { promisify } from 'node:util';
import type { DiskHint } from '../../common/contracts/disk-hint.js';
import type { Logger } from '../../common/logger.js';
import { ConflictError, InternalError, NotFoundError, errorMessage } from '../../common/errors.js';

const exec = promisify(execFile);

export interface MountedDisk {
  diskCid: string;
  hint: DiskHint;
  target: 'store' | 'migration';
}

/**
 * Mounts persistent disks at the store (or migration) directory: formats only a disk without a
 * filesystem (never one with data), and grows the filesystem online when the device grew.
 */
export class DiskManager {
  private readonly mounted = new Map<string, MountedDisk>();

  constructor(
    private readonly dirs: { store: string; migration: string },
    private readonly log: Logger,
    private readonly persist: (disks: MountedDisk[]) => Promise<void>,
  ) {}

  list(): MountedDisk[] {
    return [...this.mounted.values()];
  }

  isStoreMounted(): boolean {
    return [...this.mounted.values()].some((d) => d.target === 'store');
  }

  /** Re-mounts disks recorded in the state file that are not mounted (VM reboot); keeps the rest. */
  async restore(disks: MountedDisk[]): Promise<void> {
    for (const d of disks) {
      try {
        await this.mount(d.diskCid, d.hint, d.target, false);
      } catch (err) {
        this.log.error('cannot re-mount a recorded disk', { diskCid: d.diskCid, error: errorMessage(err) });
      }
    }
    await this.persist(this.list());
  }

  async mount(diskCid: string, hint: DiskHint, target: 'store' | 'migration' = 'store', persist = true): Promise<void> {
    const dir = this.dirs[target];
    const device = hint.path;
    const current = await mountAt(dir);
    if (current) {
      if (await sameDevice(current, device)) {
        await this.grow(device, diskCid);
        this.mounted.set(diskCid, { diskCid, hint, target });
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
    if (fsType === null) {
      this.log.info('formatting a new disk', { diskCid, device });
      await run('mkfs.ext4', ['-q', '-F', '-E', 'lazy_itable_init=1,lazy_journal_init=1', device], `format disk ${diskCid} (${device})`);
    } else if (fsType !== 'ext4') {
      throw new ConflictError(`Disk ${diskCid} (${device}) holds a ${fsType} filesystem, not ext4; bosun does not format disks that hold data. Attach the right disk.`);
    }
    if (fsType !== null) await this.growOffline(device, diskCid);
    await mkdir(dir, { recursive: true });
    await run('mount', ['-t', 'ext4', device, dir], `mount disk ${diskCid} (${device}) at ${dir}`);
    await this.grow(device, diskCid);
    this.mounted.set(diskCid, { diskCid, hint, target });
    if (persist) await this.persist(this.list());
    this.log.info('disk mounted', { diskCid, device, dir });
  }

  async unmount(diskCid: string): Promise<void> {
    const d = this.mounted.get(diskCid);
    if (!d) return; // unmounting a disk that is not mounted is a no-op (idempotent)
    const dir = this.dirs[d.target];
    if (await mountAt(dir)) await run('umount', [dir], `unmount disk ${diskCid} from ${dir}`);
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

/** The source device mounted at `dir` (from this mount namespace's mountinfo), or null. */
async function mountAt(dir: string): Promise<string | null> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  let found: string | null = null;
  for (const line of text.split('\n')) {
    const parts = line.split(' ');
    const mountPoint = parts[4]?.replace(/\\040/g, ' ');
    const sep = parts.indexOf('-');
    if (mountPoint === dir && sep > 0) found = parts[sep + 2] ?? null;
  }
  return found;
}

async function sameDevice(a: string, b: string): Promise<boolean> {
  const ra = await realpath(a).catch(() => a);
  const rb = await realpath(b).catch(() => b);
  return ra === rb;
}
