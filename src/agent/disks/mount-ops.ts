/**
 * The few mount operations the disk manager performs on a directory disk (and every unmount),
 * behind a port so that unit tests can fake them: a bind mount of the directory onto the store,
 * the mount at a directory, whether a mount there is that directory, and unmount.
 */
import { execFile } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { promisify } from 'node:util';
import { InternalError, errorMessage } from '../../common/errors.js';
import { readMounts, type MountEntry } from './mountinfo.js';

const exec = promisify(execFile);

export interface MountOps {
  /** The topmost mount at `dir`, or null. */
  mountAt(dir: string): Promise<MountEntry | null>;
  /** `mount --bind source dir`. */
  bind(source: string, dir: string): Promise<void>;
  /** True when what is mounted at `dir` is the directory `source` (same inode on the same device). */
  isBoundFrom(dir: string, source: string): Promise<boolean>;
  /** `umount dir`; rejects with the command's error (its `stderr` says why, e.g. busy). */
  unmount(dir: string): Promise<void>;
}

export const systemMountOps: MountOps = {
  async mountAt(dir) {
    let found: MountEntry | null = null;
    for (const m of await readMounts()) if (m.mountPoint === dir) found = m;
    return found;
  },
  async bind(source, dir) {
    try {
      await exec('mount', ['--bind', source, dir]);
    } catch (err) {
      const stderr = (err as { stderr?: string }).stderr?.trim();
      throw new InternalError(`Could not bind-mount the disk directory ${source} at ${dir}: ${stderr || errorMessage(err)}`, { cause: err });
    }
  },
  async isBoundFrom(dir, source) {
    const [a, b] = await Promise.all([stat(dir), stat(source)]).catch(() => [null, null]);
    return a !== null && b !== null && a.dev === b.dev && a.ino === b.ino;
  },
  async unmount(dir) {
    await exec('umount', [dir]);
  },
};
