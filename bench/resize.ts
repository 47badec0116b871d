/**
 * `npm run bench -- resize [engine|stack|all] [dataMiB=1024] [diskMiB=2048] [rounds=3]` (root).
 *
 * `stack` (bench/resize-stack.ts): through the real director, a local-cloud VM, the agent and redis.
 *
 * `engine`: on host ext4 loop disks, the agent's disk operations alone — the copy engine
 * (src/agent/disks/migrate.ts) and the grow recipe — without VMs or containers, so "downtime" is
 * the window in which containers would be stopped:
 * - grow in place: unmount → detach → enlarge → attach → fsck + resize2fs → mount; with the data
 *   set and with an empty disk (to show it does not depend on the data);
 * - shrink by copy: bulk copy (cp -a) while 1 % of the data is rewritten, catch-up passes still
 *   running, then the downtime: final delta + verify (copyFinalDelta) + swap of the mounts;
 * - side by side on the same data, to fresh disks: tar -cf - . | tar -xpf - (BOSH's copy, all of
 *   it downtime), cp -a, the bulk engine and the rsync engine.
 */
import { appendFile, open, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { copyDelta, copyFinalDelta, copyTree, usedBytes, verifyTrees } from '../src/agent/disks/migrate.js';
import { createLoopDisks, sh, type LoopDisk, type LoopDisks } from '../test/helpers/loop-disks.js';
import { writeDataSet } from '../test/helpers/disk-data-set.js';
import { runStack } from './resize-stack.js';

const MiB = 1024 * 1024;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
}

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = performance.now();
  const value = await fn();
  return { ms: Math.round(performance.now() - t0), value };
}

/** What the agent + local cloud do for a grow; returns ms from "containers stopped" to "mounted and grown". */
async function growInPlace(disks: LoopDisks, disk: LoopDisk, toMiB: number): Promise<number> {
  const { ms } = await timed(async () => {
    await disks.unmount(disk);
    await sh('losetup', ['-d', disk.device]);
    await sh('truncate', ['-s', `${toMiB}M`, disk.image]);
    disk.device = (await sh('losetup', ['--find', '--show', disk.image])).trim();
    // What the agent's mount_disk does: offline grow (fsck + resize2fs), then mount.
    await sh('e2fsck', ['-f', '-p', disk.device]).catch((err: { code?: number }) => {
      if (err.code !== 1) throw err; // 1: corrected (e.g. journal replayed)
    });
    await sh('resize2fs', [disk.device]);
    await disks.mount(disk);
  });
  return ms;
}

/** Rewrites about `bytes` of the data set in place, in small and large files, plus a few new files. */
async function writeChurn(
  root: string,
  bytes: number,
  spreadMs: number,
  largeFiles: number,
): Promise<number> {
  const chunk = Buffer.alloc(256 * 1024, 7);
  const rounds = Math.ceil(bytes / chunk.length);
  let written = 0;
  for (let i = 0; i < rounds; i++) {
    if (i % 4 === 0) {
      const fh = await open(path.join(root, 'big', `large${(i / 4) % largeFiles}.bin`), 'r+');
      await fh.write(chunk, 0, chunk.length, ((i * 7919) % 100) * MiB);
      await fh.close();
    } else if (i % 4 === 1) {
      await writeFile(path.join(root, 'small', `d${i % 17}`, `f${i}`), chunk.subarray(0, 64 * 1024));
    } else if (i % 4 === 2) {
      await writeFile(path.join(root, `new-${i}`), chunk);
    } else {
      await appendFile(path.join(root, 'big', 'large0.bin'), chunk);
    }
    written += chunk.length;
    await new Promise((r) => setTimeout(r, spreadMs / rounds));
  }
  return written;
}

/** `resize [engine|stack|all] [dataMiB=1024] [diskMiB=2048] [rounds=3]` (default all). */
export async function run(args: string[]): Promise<unknown> {
  const modes = ['engine', 'stack', 'all'];
  const mode = modes.includes(args[0] ?? '') ? args.shift() : 'all';
  const dataMiB = Number(args[0] ?? 1024);
  const diskMiB = Number(args[1] ?? 2048);
  const rounds = Number(args[2] ?? 3);
  const out: Record<string, unknown> = {};
  if (mode !== 'stack') out.engine = await runEngine(dataMiB, diskMiB, rounds);
  if (mode !== 'engine') out.stack = await runStack(dataMiB, diskMiB);
  return out;
}

async function runEngine(dataMiB: number, diskMiB: number, rounds: number): Promise<unknown> {
  const disks = await createLoopDisks();
  try {
    const src = await disks.create('src', diskMiB);
    const largeMiB = 128;
    const largeFiles = Math.max(1, Math.floor((dataMiB * 0.75) / largeMiB));
    const smallBytes = (dataMiB - largeFiles * largeMiB) * MiB;
    const smallFiles = Math.floor(smallBytes / (34 * 1024));
    await writeDataSet(src.mountPoint, {
      smallFiles,
      smallMin: 4096,
      smallMax: 64 * 1024,
      largeFiles,
      largeMiB,
    });
    await sh('sync', []);
    const srcUse = await usedBytes(src.mountPoint);

    // --- side by side full copies to fresh disks, rounds alternated (the host is shared: median) ---
    const fresh = async (name: string): Promise<LoopDisk> => disks.create(name, diskMiB);
    const samples = {
      tar: [] as number[],
      cp: [] as number[],
      engine: [] as number[],
      rsync: [] as number[],
    };
    for (let round = 0; round < rounds; round++) {
      const measure = async (
        name: keyof typeof samples,
        copy: (dst: string) => Promise<unknown>,
      ): Promise<void> => {
        const d = await fresh(`${name}-${round}`);
        await sh('sync', []);
        const { ms } = await timed(async () => {
          await copy(d.mountPoint);
          await sh('sync', []);
        });
        samples[name].push(ms);
        await disks.remove(d);
      };
      await measure('tar', (dst) =>
        sh('sh', ['-c', `cd '${src.mountPoint}' && tar -cf - . | (cd '${dst}' && tar -xpf -)`]),
      );
      await measure('cp', (dst) => sh('cp', ['-a', `${src.mountPoint}/.`, `${dst}/`]));
      await measure('engine', (dst) => copyTree(src.mountPoint, dst));
      await measure('rsync', (dst) => copyTree(src.mountPoint, dst, { engine: 'rsync' }));
    }
    const tar = { ms: median(samples.tar) };
    const cp = { ms: median(samples.cp) };
    const engine = { ms: median(samples.engine) };
    const rsync = { ms: median(samples.rsync) };

    // --- shrink by copy, 1 % written during the bulk copy -----------------------------------
    const shrinkMiB = Math.ceil(dataMiB * 1.5);
    const dst = await disks.create('shrink', shrinkMiB);
    const copyStarted = Date.now() - 500;
    let progressReports = 0;
    const [bulk, churnBytes] = await Promise.all([
      timed(async () => {
        const s = await copyTree(src.mountPoint, dst.mountPoint, { onProgress: () => progressReports++ });
        await sh('sync', []);
        return s;
      }),
      writeChurn(src.mountPoint, dataMiB * MiB * 0.01, Math.max(500, cp.ms * 0.6), largeFiles),
    ]);
    // Still running: catch-up passes as the director runs them (content compare of the files changed
    // since the previous pass started; another pass while one takes 2 s or more, at most 3).
    let since = copyStarted;
    const syncPasses: number[] = [];
    const sync = await timed(async () => {
      let bytes = 0;
      for (let pass = 0; pass < 3; pass++) {
        const passStarted = Date.now() - 500;
        const p = await timed(() => copyDelta(src.mountPoint, dst.mountPoint, { checksumSinceMs: since }));
        since = passStarted;
        syncPasses.push(p.ms);
        bytes += p.value.bytesCopied;
        if (p.ms < 2000) break;
      }
      return { bytesCopied: bytes };
    });
    const syncStarted = since;
    // Containers stopped from here: delta + verify (what the agent's migrate_disk 'delta' runs), swap.
    const delta = await timed(() => copyFinalDelta(src.mountPoint, dst.mountPoint, syncStarted));
    // For comparison (not in the downtime): the same with a full rsync pass and a separate verify walk.
    const classicDelta = await timed(() => copyDelta(src.mountPoint, dst.mountPoint));
    const classicVerify = await timed(() => verifyTrees(src.mountPoint, dst.mountPoint, syncStarted));
    const swap = await timed(async () => {
      await disks.unmount(src);
      await disks.unmount(dst);
      await sh('mount', [dst.device, src.mountPoint]);
    });
    // Back to the original layout for the grow measurement (not timed).
    await sh('umount', [src.mountPoint]);
    await disks.mount(src);
    await disks.mount(dst);
    const copyDowntimeMs = delta.ms + swap.ms;

    // --- grow in place -------------------------------------------------------------------------
    const growFull = await growInPlace(disks, src, diskMiB + 1024);
    const empty = await disks.create('empty', diskMiB);
    const growEmpty = await growInPlace(disks, empty, diskMiB + 1024);

    const mibps = (ms: number): number => Math.round((srcUse.usedBytes / MiB / (ms / 1000)) * 10) / 10;
    return {
      mode: 'copy engine and grow recipe on host loop disks (no VMs or containers): downtime = the containers-stopped window',
      data: {
        usedMiB: Math.round(srcUse.usedBytes / MiB),
        files: srcUse.usedInodes,
        diskMiB,
        largeFiles,
        largeMiB,
        smallFiles,
      },
      growInPlace: {
        downtimeMs: growFull,
        totalMs: growFull,
        downtimeEmptyDiskMs: growEmpty,
        toMiB: diskMiB + 1024,
      },
      shrinkByCopy: {
        toMiB: shrinkMiB,
        bulkCopyMs: bulk.ms,
        bulkCopyMiBps: mibps(bulk.ms),
        writtenDuringCopyMiB: Math.round(churnBytes / MiB),
        syncPassesMs: syncPasses,
        syncPassBytes: sync.value.bytesCopied,
        deltaAndVerifyMs: delta.ms,
        deltaBytes: delta.value.bytesCopied,
        deltaFiles: delta.value.filesCopied,
        verifiedFiles: delta.value.verified.files,
        checksummedFiles: delta.value.verified.checksummed,
        fullRsyncDeltaMsForComparison: classicDelta.ms,
        separateVerifyMsForComparison: classicVerify.ms,
        swapMs: swap.ms,
        downtimeMs: copyDowntimeMs,
        totalMs: bulk.ms + sync.ms + copyDowntimeMs,
        progressReports,
      },
      fullCopies: {
        rounds,
        samplesMs: samples,
        tarPipeMs: tar.ms,
        tarPipeMiBps: mibps(tar.ms),
        cpAMs: cp.ms,
        cpAMiBps: mibps(cp.ms),
        bulkEngineMs: engine.ms,
        bulkEngineMiBps: mibps(engine.ms),
        rsyncEngineMs: rsync.ms,
        rsyncEngineMiBps: mibps(rsync.ms),
      },
      targets: {
        growDowntimeUnder3s: growFull < 3000,
        copyDowntimeUnder10PercentOfTar: copyDowntimeMs < 0.1 * tar.ms,
        copyDowntimePercentOfTar: Math.round((1000 * copyDowntimeMs) / tar.ms) / 10,
        bulkThroughputVsCpA: Math.round((cp.ms / engine.ms) * 100) / 100,
        bulkThroughputAtLeast09xCpA: cp.ms / engine.ms >= 0.9,
      },
    };
  } finally {
    await disks.cleanup();
  }
}
