/**
 * Directory disks in the agent's disk manager (warden/docker-style CPIs bind a host directory into
 * the VM): mounting is a bind mount onto the store, never a filesystem; unmounting unmounts it; the
 * state the agent persists says what was mounted. The mount operations are faked.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DiskManager, type MountedDisk } from '../../../src/agent/disks/disk-manager.js';
import type { MountOps } from '../../../src/agent/disks/mount-ops.js';
import type { MountEntry } from '../../../src/agent/disks/mountinfo.js';
import { ConflictError } from '../../../src/common/errors.js';
import { silentLogger } from '../../../src/common/logger.js';

class FakeMounts implements MountOps {
  readonly mounts = new Map<string, string>();
  readonly calls: string[] = [];
  busy = false;
  async mountAt(dir: string): Promise<MountEntry | null> {
    const source = this.mounts.get(dir);
    return source === undefined ? null : { mountPoint: dir, root: source, fsType: 'ext4', source: '/dev/vda1' };
  }
  async bind(source: string, dir: string): Promise<void> {
    this.calls.push(`bind ${source} ${dir}`);
    this.mounts.set(dir, source);
  }
  async isBoundFrom(dir: string, source: string): Promise<boolean> {
    return this.mounts.get(dir) === source;
  }
  async unmount(dir: string): Promise<void> {
    this.calls.push(`umount ${dir}`);
    if (this.busy) throw Object.assign(new Error('umount failed'), { stderr: `umount: ${dir}: target is busy.` });
    this.mounts.delete(dir);
  }
}

let root: string;
let store: string;
let migration: string;
let ops: FakeMounts;
let persisted: MountedDisk[][];
let disks: DiskManager;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'bosun-dirdisk-'));
  store = join(root, 'var/vcap/store');
  migration = join(root, 'var/vcap/store_migration_target');
  await mkdir(join(root, 'warden-cpi-dev/disk-a'), { recursive: true });
  await mkdir(join(root, 'warden-cpi-dev/disk-b'), { recursive: true });
  ops = new FakeMounts();
  persisted = [];
  disks = new DiskManager({ store, migration }, silentLogger, async (d) => void persisted.push(d.map((x) => ({ ...x }))), {
    mountOps: ops,
    resolve: { timeoutMs: 200, intervalMs: 20 },
  });
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

const dirA = (): string => join(root, 'warden-cpi-dev/disk-a');
const dirB = (): string => join(root, 'warden-cpi-dev/disk-b');

describe('a directory disk', () => {
  it('is bind-mounted at the store (never formatted), recorded as a directory, and mounting again changes nothing', async () => {
    await disks.mount('disk-a', { path: dirA() }, 'store', { newDisk: true });
    expect(ops.calls).toEqual([`bind ${dirA()} ${store}`]);
    expect(disks.list()).toEqual([{ diskCid: 'disk-a', hint: { path: dirA() }, target: 'store', kind: 'directory' }]);
    expect(disks.isStoreMounted()).toBe(true);
    expect(persisted.at(-1)).toEqual(disks.list());
    await disks.mount('disk-a', { path: dirA() });
    expect(ops.calls).toHaveLength(1);
  });

  it('refuses a second directory at an occupied store', async () => {
    await disks.mount('disk-a', { path: dirA() });
    await expect(disks.mount('disk-b', { path: dirB() })).rejects.toBeInstanceOf(ConflictError);
    expect(disks.list().map((d) => d.diskCid)).toEqual(['disk-a']);
  });

  it('mounts a second directory at the migration target (resize by copy) and unmounts both', async () => {
    await disks.mount('disk-a', { path: dirA() });
    await disks.mount('disk-b', { path: dirB() }, 'migration', { newDisk: true });
    expect(ops.mounts.get(migration)).toBe(dirB());
    await disks.unmount('disk-b');
    await disks.unmount('disk-a');
    expect(ops.calls.slice(-2)).toEqual([`umount ${migration}`, `umount ${store}`]);
    expect(disks.list()).toEqual([]);
    expect(persisted.at(-1)).toEqual([]);
  });

  it('keeps a busy directory disk mounted and says what to do', async () => {
    await disks.mount('disk-a', { path: dirA() });
    ops.busy = true;
    await expect(disks.unmount('disk-a')).rejects.toThrow(/still in use.*fuser/);
    expect(disks.list()).toHaveLength(1);
  });

  it('is re-mounted from the state file after a restart; a recorded directory that is gone does not hold up the start', async () => {
    await disks.restore([
      { diskCid: 'disk-a', hint: { path: dirA() }, target: 'store' },
      { diskCid: 'disk-gone', hint: { path: join(root, 'warden-cpi-dev/disk-gone') }, target: 'migration' },
    ]);
    expect(ops.mounts.get(store)).toBe(dirA());
    expect(disks.list().map((d) => d.diskCid)).toEqual(['disk-a']);
  });

  it('refuses a directory inside the store itself', async () => {
    await mkdir(join(store, 'inner'), { recursive: true });
    await expect(disks.mount('disk-x', { path: join(store, 'inner') })).rejects.toThrow(/contain one another/);
  });
});
