/**
 * The agent's disk copy engine on real ext4 loop disks on the host: a known data set is copied
 * identically (content, owners, modes, mtimes, hard links, symlinks, sparse files, xattrs), the delta
 * pass catches changes made during the bulk copy, and verification catches a corrupted copy.
 */
import { appendFile, chmod, chown, link, mkdir, open, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkFits,
  copyDelta,
  copyFinalDelta,
  copyTree,
  usedBytes,
  verifyTrees,
  type CopyProgress,
} from '../../src/agent/disks/migrate.js';
import { createMigrateDiskAction } from '../../src/agent/disks/migrate-action.js';
import { TaskRegistry } from '../../src/agent/tasks.js';
import { silentLogger } from '../../src/common/logger.js';
import { createLoopDisks, sh, type LoopDisk, type LoopDisks } from '../helpers/loop-disks.js';
import { getXattrs, setXattr, snapshotTree, writeDataSet } from '../helpers/disk-data-set.js';

let disks: LoopDisks;
let src: LoopDisk;

beforeAll(async () => {
  disks = await createLoopDisks();
  src = await disks.create('src', 256);
  await writeDataSet(src.mountPoint, { smallFiles: 400, largeFiles: 2, largeMiB: 8 });
});

afterAll(async () => {
  await disks?.cleanup();
});

describe('copy engine on loop disks', () => {
  it('copies the data set identically with cp, then the delta pass catches changes made meanwhile', async () => {
    const dst = await disks.create('dst-cp', 160);
    const progress: CopyProgress[] = [];
    const started = Date.now() - 1000;
    const stats = await copyTree(src.mountPoint, dst.mountPoint, {
      onProgress: (p) => progress.push(p),
      progressIntervalMs: 10,
    });
    expect(stats.filesCopied).toBeGreaterThan(400);
    expect(stats.bytesCopied).toBeGreaterThan(16 * 1024 * 1024);
    expect(progress.at(-1)?.bytesTotal).toBeGreaterThan(16 * 1024 * 1024);
    // The sparse file stayed sparse: 64 MiB apparent, almost nothing allocated.
    expect((await usedBytes(dst.mountPoint)).usedBytes).toBeLessThan(
      (await usedBytes(src.mountPoint)).usedBytes + 8 * 1024 * 1024,
    );

    // Writes while the containers still run: change, add, delete, chmod, chown, append.
    const s = src.mountPoint;
    await writeFile(path.join(s, 'small/d1/f1'), 'rewritten during the copy');
    await writeFile(path.join(s, 'new-file'), 'created during the copy');
    await rm(path.join(s, 'small/d2/f2'));
    await chmod(path.join(s, 'odd/owned'), 0o640);
    await chown(path.join(s, 'small/d3/f3'), 4321, 4321);
    await appendFile(path.join(s, 'big/large1.bin'), 'more');
    // Same size, same mtime, different content: only the checksum pass can tell.
    const fh = await open(path.join(s, 'big/large0.bin'), 'r+');
    await fh.write(Buffer.from('X'), 0, 1, 5000);
    await fh.close();

    const delta = await copyDelta(src.mountPoint, dst.mountPoint);
    expect(delta.durationMs).toBeLessThan(30_000);
    const verified = await verifyTrees(src.mountPoint, dst.mountPoint, started);
    expect(verified.checksummed).toBeGreaterThan(0);
    expect(await snapshotTree(dst.mountPoint)).toEqual(await snapshotTree(src.mountPoint));
    expect(await getXattrs(path.join(dst.mountPoint, 'odd/xattr'))).toEqual({ 'user.bosun': 'resize-test' });
    const snap = await snapshotTree(dst.mountPoint);
    expect(snap['big/sparse.img']?.sparse).toBe(true);
    expect(snap['odd/hard-b']?.linkGroup).toBe(snap['odd/hard-a']?.linkGroup);
    expect(snap['odd/hard-a']?.nlink).toBe(3);
    expect(snap['odd/owned']?.uid).toBe(1234);
    expect(snap['odd/setuid']?.mode.toString(8)).toBe('104755');
    expect(snap['odd/old']?.mtimeMs).toBe(Date.parse('2001-02-03T04:05:06Z'));
    expect(snap['odd/rel-link']?.target).toBe('../big/large0.bin');
    expect(snap['small/d2/f2']).toBeUndefined();
  });

  it('copies identically with the rsync engine and reports bytes and files from --info=progress2', async () => {
    const dst = await disks.create('dst-rsync', 160);
    const progress: CopyProgress[] = [];
    const stats = await copyTree(src.mountPoint, dst.mountPoint, {
      engine: 'rsync',
      onProgress: (p) => progress.push(p),
      progressIntervalMs: 0,
    });
    expect(stats.filesCopied).toBeGreaterThan(400);
    expect(stats.bytesCopied).toBeGreaterThan(16 * 1024 * 1024);
    expect(progress.length).toBeGreaterThan(0);
    await verifyTrees(src.mountPoint, dst.mountPoint, 0);
    expect(await snapshotTree(dst.mountPoint)).toEqual(await snapshotTree(src.mountPoint));
    expect(await getXattrs(path.join(dst.mountPoint, 'odd/xattr'))).toEqual({ 'user.bosun': 'resize-test' });
  });

  it('verification catches a copy whose content differs while size and mtime match', async () => {
    const dst = await disks.create('dst-corrupt', 160);
    const started = Date.now();
    await copyTree(src.mountPoint, dst.mountPoint);
    await verifyTrees(src.mountPoint, dst.mountPoint, started);
    // Same size and mtime, different content (what a bulk copy that raced a writer could leave).
    const victim = path.join(dst.mountPoint, 'big/large1.bin');
    const fh = await open(victim, 'r+');
    await fh.write(Buffer.from('corrupt'), 0, 7, 100);
    await fh.close();
    await sh('touch', ['-r', path.join(src.mountPoint, 'big/large1.bin'), victim]);
    // Unchanged on the source since the copy started: not checksummed (that is the point of changedSince).
    await verifyTrees(src.mountPoint, dst.mountPoint, Date.now() + 60_000);
    // Changed on the source since the copy started (ctime): its content is compared.
    const srcFile = path.join(src.mountPoint, 'big/large1.bin');
    await chmod(srcFile, (await stat(srcFile)).mode & 0o7777);
    await expect(verifyTrees(src.mountPoint, dst.mountPoint, started)).rejects.toThrow(/big\/large1.bin/);
    await rm(path.join(dst.mountPoint, 'new-file'), { force: true });
    await rm(path.join(dst.mountPoint, 'small/d0/f0'));
    await expect(verifyTrees(src.mountPoint, dst.mountPoint, started)).rejects.toThrow(
      /small\/d0\/f0: missing on the new disk/,
    );
  });

  it('tolerates files that vanish during the bulk copy (cp and rsync engines); the delta makes it exact', async () => {
    for (const engine of ['cp', 'rsync'] as const) {
      const churnDir = path.join(src.mountPoint, 'churn');
      await mkdir(churnDir, { recursive: true });
      for (let i = 0; i < 2000; i++) await writeFile(path.join(churnDir, `tmp-${i}`), 'temporary');
      const dst = await disks.create(`dst-vanish-${engine}`, 160);
      let stop = false;
      const churn = (async () => {
        for (let i = 0; !stop; i = (i + 1) % 2000) {
          await rm(path.join(churnDir, `tmp-${i}`), { force: true });
          await writeFile(path.join(churnDir, `tmp-${i}`), `again ${i}`);
        }
      })();
      try {
        await copyTree(src.mountPoint, dst.mountPoint, { engine });
      } finally {
        stop = true;
        await churn;
      }
      await copyDelta(src.mountPoint, dst.mountPoint);
      expect(await snapshotTree(dst.mountPoint)).toEqual(await snapshotTree(src.mountPoint));
      await rm(churnDir, { recursive: true });
    }
  });

  it('the catch-up pass compares changed files by content: a rewrite that kept size and mtime is caught', async () => {
    const dst = await disks.create('dst-sync', 160);
    const since = Date.now() - 2000;
    await copyTree(src.mountPoint, dst.mountPoint);
    const file = path.join(src.mountPoint, 'small/d5/f5');
    const { size } = await stat(file);
    await writeFile(file, Buffer.alloc(size, 0x61));
    await sh('touch', ['-r', path.join(dst.mountPoint, 'small/d5/f5'), file]); // mtime restored
    const quick = await copyDelta(src.mountPoint, dst.mountPoint);
    expect(quick.filesCopied).toBe(0); // size + mtime equal: the quick check cannot see it
    await copyDelta(src.mountPoint, dst.mountPoint, { checksumSinceMs: since });
    expect(await snapshotTree(dst.mountPoint)).toEqual(await snapshotTree(src.mountPoint));
  });

  it('the final delta (one walk, targeted rsync) makes the copy identical: deletions, types, owners, xattrs, links', async () => {
    const dst = await disks.create('dst-final', 160);
    await copyTree(src.mountPoint, dst.mountPoint);
    const since = Date.now() - 500;
    const s = src.mountPoint;
    await writeFile(path.join(s, 'small/d6/new-in-final'), 'new');
    await rm(path.join(s, 'small/d7/f7'));
    await mkdir(path.join(s, 'gone-dir/sub'), { recursive: true });
    await writeFile(path.join(s, 'gone-dir/sub/x'), 'x');
    await chmod(path.join(s, 'small/d8/f8'), 0o600);
    await chown(path.join(s, 'small/d9/f9'), 777, 888);
    await setXattr(path.join(s, 'odd/xattr'), 'user.bosun', 'changed-after-copy');
    await link(path.join(s, 'small/d10/f10'), path.join(s, 'small/d10/f10-link'));
    await rm(path.join(s, 'odd/rel-link'));
    await symlink('../small/d1/f1', path.join(s, 'odd/rel-link'));
    await rm(path.join(s, 'odd/empty'));
    await mkdir(path.join(s, 'odd/empty'));
    const file = path.join(s, 'small/d11/f11');
    const { size } = await stat(file);
    await writeFile(file, Buffer.alloc(size, 0x62));
    await sh('touch', ['-r', path.join(dst.mountPoint, 'small/d11/f11'), file]);
    // An entry only on the target (e.g. left by an interrupted earlier attempt).
    await writeFile(path.join(dst.mountPoint, 'stale'), 'stale');
    const r = await copyFinalDelta(src.mountPoint, dst.mountPoint, since);
    expect(r.verified.checksummed).toBeGreaterThan(0);
    expect(await snapshotTree(dst.mountPoint)).toEqual(await snapshotTree(src.mountPoint));
    expect(await getXattrs(path.join(dst.mountPoint, 'odd/xattr'))).toEqual({
      'user.bosun': 'changed-after-copy',
    });
    // Nothing changed since: nothing copied, one walk of each tree.
    const again = await copyFinalDelta(src.mountPoint, dst.mountPoint, Date.now() + 60_000);
    expect(again.filesCopied).toBe(0);
    await rm(path.join(s, 'gone-dir'), { recursive: true });
  });

  it('refuses a target smaller than the data plus margin', async () => {
    const tiny = await disks.create('tiny', 48);
    await expect(checkFits(src.mountPoint, tiny.mountPoint)).rejects.toThrow(
      /new disk is too small.*at least \d+ MiB/,
    );
    const ok = await disks.create('ok', 160);
    await expect(checkFits(src.mountPoint, ok.mountPoint)).resolves.toBeUndefined();
  });

  it('a cancelled migrate_disk task stops its copier (SIGTERM, then SIGKILL) and reports cancelled only once it exited', async () => {
    const from = await disks.create('cancel-src', 512);
    const to = await disks.create('cancel-dst', 512);
    await sh('dd', ['if=/dev/zero', `of=${path.join(from.mountPoint, 'big.bin')}`, 'bs=1M', 'count=300', 'conv=fsync']);
    const migrate = createMigrateDiskAction({ store: from.mountPoint, migration: to.mountPoint }, silentLogger);
    const tasks = new TaskRegistry(silentLogger);
    const task = tasks.start('migrate_disk', ({ signal, progress }) => migrate({ phase: 'copy' }, { signal, onProgress: progress }));
    // Catch the copier and freeze it: it ignores SIGTERM until the SIGKILL of the grace period.
    const copier = await waitForProcess(['cp', '-a', '--sparse=auto', `${from.mountPoint}/.`], 20_000);
    process.kill(copier, 'SIGSTOP');
    // Stopped for real (a signal sent mid-syscall is delivered when the syscall returns).
    while (!/^State:\s+T/m.test(await readFile(`/proc/${copier}/status`, 'utf8'))) await new Promise((r) => setTimeout(r, 10));
    expect(tasks.cancel(task.id).state).toBe('running');
    await new Promise((r) => setTimeout(r, 1000));
    expect(tasks.get(task.id)?.state).toBe('running');
    const deadline = Date.now() + 20_000;
    while (tasks.get(task.id)?.state === 'running' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(tasks.get(task.id)).toMatchObject({ state: 'cancelled', error: { code: 'cancelled' } });
    expect(await processAlive(copier)).toBe(false);
    await disks.remove(to);
    await disks.remove(from);
  }, 60_000);
});

/** The pid of a process whose argv starts with `argv`, once there is one. */
async function waitForProcess(argv: string[], timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  const prefix = argv.join('\0');
  while (Date.now() < deadline) {
    for (const entry of await readdir('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
      if (cmdline.startsWith(prefix)) return Number(entry);
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`no process ${argv.join(' ')} within ${timeoutMs} ms`);
}

async function processAlive(pid: number): Promise<boolean> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  return status !== '' && !/^State:\s+Z/m.test(status);
}

