/**
 * Directory disks of the local cloud (`disk_kind: directory`), as warden/docker-style CPIs give
 * them: a persistent disk is a host directory, and a VM sees an attached one at
 * /warden-cpi-dev/<cid> (the path the docker CPI uses); the agent bind-mounts it at its store.
 *
 * A detached disk lives at `<dataDir>/disks/<cid>.dir`. Attaching moves it (rename, same
 * filesystem) into `<vm>/attached-disks/<cid>`; each stemcell VM binds its `<vm>/attached-disks`
 * at /warden-cpi-dev when it boots (stemcell-vm.ts), so the disk appears in the running VM without
 * entering its mount namespace (mount(8) cannot bind a host path into another mount namespace; a
 * rename inside one filesystem is seen through every bind mount of it). Detaching moves it back;
 * deleting the VM moves it back before the VM's directory is removed, so the disk survives.
 */
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { CloudError } from '../cloud.js';
import { readMounts } from '../../agent/disks/mountinfo.js';

/** Where a stemcell VM sees its attached directory disks. */
export const DIRECTORY_DISKS_IN_VM = '/warden-cpi-dev';

/** `<vm>/attached-disks`: bound at /warden-cpi-dev inside a stemcell VM. */
export function attachedDisksDir(vmDir: string): string {
  return path.join(vmDir, 'attached-disks');
}

export function attachedDiskDir(vmDir: string, diskCid: string): string {
  return path.join(attachedDisksDir(vmDir), diskCid);
}

/** A detached directory disk: `<disksDir>/<cid>.dir`. */
export function detachedDiskDir(disksDir: string, diskCid: string): string {
  return path.join(disksDir, `${diskCid}.dir`);
}

export async function createDirectoryDisk(disksDir: string, diskCid: string): Promise<void> {
  await fs.mkdir(detachedDiskDir(disksDir, diskCid), { mode: 0o755 });
}

/** Moves the disk's directory from `from` to `to` (idempotent: done when it is already at `to`). */
async function move(from: string, to: string, diskCid: string): Promise<void> {
  if (!existsSync(from) && existsSync(to)) return;
  await fs.mkdir(path.dirname(to), { recursive: true });
  try {
    await fs.rename(from, to);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new CloudError(
      code === 'EXDEV'
        ? `cannot move directory disk ${diskCid} from ${from} to ${to}: they are on different filesystems; keep the local cloud's data dir on one filesystem`
        : `cannot move directory disk ${diskCid} from ${from} to ${to}: ${(err as Error).message}`,
      { okToRetry: false, cause: err },
    );
  }
}

export async function attachDirectoryDisk(disksDir: string, vmDir: string, diskCid: string): Promise<void> {
  await move(detachedDiskDir(disksDir, diskCid), attachedDiskDir(vmDir, diskCid), diskCid);
}

export async function detachDirectoryDisk(disksDir: string, vmDir: string, diskCid: string): Promise<void> {
  await move(attachedDiskDir(vmDir, diskCid), detachedDiskDir(disksDir, diskCid), diskCid);
}

/** True when the disk's directory is where an attached disk of that VM is. */
export function directoryDiskAttached(vmDir: string, diskCid: string): boolean {
  return existsSync(attachedDiskDir(vmDir, diskCid));
}

export function directoryDiskExists(disksDir: string, diskCid: string, vmDir: string | null): boolean {
  return existsSync(detachedDiskDir(disksDir, diskCid)) || (vmDir !== null && directoryDiskAttached(vmDir, diskCid));
}

/**
 * The VM's mounts of the disk's directory other than the /warden-cpi-dev view of all of them (the
 * agent's bind mount at its store): a disk still mounted must not be detached from under the VM.
 */
export async function vmMountsOfDirectoryDisk(pid1: number, diskCid: string): Promise<string[]> {
  const mounts = await readMounts(`/proc/${pid1}/mountinfo`).catch(() => []);
  return mounts.filter((m) => m.root.endsWith(`/attached-disks/${diskCid}`) || m.root.endsWith(`/${diskCid}.dir`)).map((m) => m.mountPoint);
}

export async function deleteDirectoryDisk(disksDir: string, diskCid: string): Promise<void> {
  await fs.rm(detachedDiskDir(disksDir, diskCid), { recursive: true, force: true });
}
