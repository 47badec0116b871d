/**
 * Real ext4 filesystems on sparse files attached as loop devices, mounted under a temp dir named
 * /tmp/bosun-test-* (the leak cleaner's pattern). `cleanup()` unmounts, detaches and removes
 * everything and never throws: call it from afterAll.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export async function sh(file: string, args: string[]): Promise<string> {
  const { stdout } = await execFileAsync(file, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  return stdout;
}

export interface LoopDisk {
  image: string;
  device: string;
  mountPoint: string;
}

export interface LoopDisks {
  dir: string;
  /** Creates, formats, attaches and mounts a new disk of `sizeMiB`. */
  create(name: string, sizeMiB: number): Promise<LoopDisk>;
  unmount(disk: LoopDisk): Promise<void>;
  mount(disk: LoopDisk): Promise<void>;
  /** Grows a disk the way the local cloud does: unmount, detach, enlarge the file, attach, resize2fs, mount. */
  grow(disk: LoopDisk, sizeMiB: number): Promise<void>;
  /** Unmounts, detaches and deletes one disk. */
  remove(disk: LoopDisk): Promise<void>;
  cleanup(): Promise<void>;
}

export async function createLoopDisks(): Promise<LoopDisks> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'bosun-test-disks-'));
  const disks: LoopDisk[] = [];
  const attach = async (disk: LoopDisk): Promise<void> => {
    disk.device = (await sh('losetup', ['--find', '--show', disk.image])).trim();
  };
  const self: LoopDisks = {
    dir,
    async create(name, sizeMiB) {
      const disk: LoopDisk = {
        image: path.join(dir, `${name}.img`),
        device: '',
        mountPoint: path.join(dir, name),
      };
      disks.push(disk);
      await sh('truncate', ['-s', `${sizeMiB}M`, disk.image]);
      await sh('mkfs.ext4', ['-q', '-F', disk.image]);
      await attach(disk);
      await mkdir(disk.mountPoint, { recursive: true });
      await self.mount(disk);
      return disk;
    },
    async mount(disk) {
      await sh('mount', [disk.device, disk.mountPoint]);
    },
    async unmount(disk) {
      await sh('umount', [disk.mountPoint]);
    },
    async grow(disk, sizeMiB) {
      await self.unmount(disk);
      await sh('losetup', ['-d', disk.device]);
      disk.device = '';
      await sh('truncate', ['-s', `${sizeMiB}M`, disk.image]);
      await attach(disk);
      await sh('e2fsck', ['-f', '-p', disk.device]).catch(() => undefined);
      await sh('resize2fs', [disk.device]);
      await self.mount(disk);
    },
    async remove(disk) {
      await sh('umount', [disk.mountPoint]).catch(() => undefined);
      if (disk.device) await sh('losetup', ['-d', disk.device]);
      disk.device = '';
      await rm(disk.image, { force: true });
      await rm(disk.mountPoint, { recursive: true, force: true });
      disks.splice(disks.indexOf(disk), 1);
    },
    async cleanup() {
      for (const d of disks) {
        await sh('umount', [d.mountPoint]).catch(() => undefined);
        if (d.device) await sh('losetup', ['-d', d.device]).catch(() => undefined);
      }
      // A device attached by a failed step we did not record: detach whatever backs our files.
      const list = await sh('losetup', ['-l', '-n', '-O', 'NAME,BACK-FILE']).catch(() => '');
      for (const line of list.split('\n')) {
        const [dev, file] = line.trim().split(/\s+/);
        if (dev && file?.startsWith(dir)) await sh('losetup', ['-d', dev]).catch(() => undefined);
      }
      await rm(dir, { recursive: true, force: true }).catch(() => undefined);
    },
  };
  return self;
}
