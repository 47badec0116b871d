/**
 * The copy engine of a persistent-disk migration (resize by copy), run by the agent inside the VM
 * between two mounted filesystems: the old disk at the store and the new one at the migration target.
 *
 * - copyTree: the bulk copy while the containers still run. `cp -a` by default: it is the fastest
 *   faithful copier on this stack (coreutils ≥ 9 keeps holes with SEEK_HOLE and hard links within one
 *   run); progress comes from the target filesystem's block and inode counters, which works for any
 *   engine. `rsync` is available as an engine too (progress parsed from --info=progress2).
 * - copyDelta: after the containers stopped, `rsync -aHAXS --numeric-ids --delete` makes the target
 *   identical (changed files, deletions, owners, modes, times, xattrs, ACLs, hard-link structure).
 *   Its time depends on what changed, not on the amount of data: that is the downtime.
 *   `--modify-window=-1` makes rsync compare mtimes to the nanosecond: by default it compares whole
 *   seconds and skips a same-size file rewritten within the second after the bulk copy.
 * - verifyTrees: same file list, types, sizes, modes, owners, link structure, and a SHA-256 of every
 *   file changed since the bulk copy started.
 *
 * Every pass takes an AbortSignal: on abort the copier's process group gets SIGTERM (SIGKILL after
 * a grace period) and the pass rejects with a CancelledError only once every copier process exited,
 * so that whoever rolls back next never races a copy that is still writing.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { rm, statfs, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requiredBytesForData } from '../../common/disk-margin.js';
import { CancelledError, ConflictError, InternalError } from '../../common/errors.js';
import { throwIfAborted } from '../../common/waiting.js';

export interface CopyProgress {
  bytesCopied: number;
  filesCopied: number;
  /** What there is to copy, as far as known (the source's used bytes/inodes for a bulk copy). */
  bytesTotal: number;
  filesTotal: number;
}

export type ProgressListener = (p: CopyProgress) => void;

export interface CopyOptions {
  onProgress?: ProgressListener;
  /** Minimum interval between two progress reports. */
  progressIntervalMs?: number;
  engine?: 'cp' | 'rsync';
  /**
   * Both trees are directory disks on one filesystem: its counters count both (and everything
   * else on it), so what there is to copy is measured with du instead of statfs.
   */
  sharedFilesystem?: boolean;
  signal?: AbortSignal;
}

export interface CopyStats {
  bytesCopied: number;
  filesCopied: number;
  durationMs: number;
}

export interface FsUsage {
  usedBytes: number;
  totalBytes: number;
  availableBytes: number;
  usedInodes: number;
  totalInodes: number;
}

/** Usage of the filesystem mounted at `mountPoint` (what `df` shows), from statfs. */
export async function usedBytes(mountPoint: string): Promise<FsUsage> {
  const s = await statfs(mountPoint);
  return {
    usedBytes: (s.blocks - s.bfree) * s.bsize,
    totalBytes: s.blocks * s.bsize,
    // bavail excludes root's reserve; the agent runs as root, but containers may not.
    availableBytes: s.bavail * s.bsize,
    usedInodes: s.files - s.ffree,
    totalInodes: s.files,
  };
}

/** Bytes and entries of the tree under `dir` (du), for trees that do not have a filesystem of their own. */
export async function treeUsage(dir: string): Promise<Pick<FsUsage, 'usedBytes' | 'usedInodes'>> {
  let bytes = '';
  let inodes = '';
  const tolerate = (_code: number, stderr: string): boolean => onlyVanished(stderr);
  await run('du', ['-s', '-B1', '-x', dir], undefined, (t) => (bytes += t), tolerate);
  await run('du', ['-s', '--inodes', '-x', dir], undefined, (t) => (inodes += t), tolerate);
  return { usedBytes: Number(bytes.trim().split(/\s+/)[0] ?? 0), usedInodes: Number(inodes.trim().split(/\s+/)[0] ?? 0) };
}

/** Bytes a copy of `src` needs on a target: used bytes plus a margin (src/common/disk-margin.ts). */
export function requiredBytes(used: number): number {
  return requiredBytesForData(used);
}

/**
 * Refuses a copy that cannot fit: the target's capacity must hold the source's used bytes plus the
 * margin of requiredBytes. Called before the copy starts so that nothing was stopped yet.
 */
export async function checkFits(src: string, dst: string, options: { sharedFilesystem?: boolean } = {}): Promise<void> {
  if (options.sharedFilesystem) {
    // Directory disks on one filesystem: the copy needs the tree's size of that filesystem's free space.
    const [tree, d] = await Promise.all([treeUsage(src), usedBytes(dst)]);
    const need = requiredBytes(tree.usedBytes);
    if (need > d.availableBytes) {
      throw new ConflictError(
        `There is not enough room to copy the directory disk: the data in ${src} uses ${mib(tree.usedBytes)} MiB and needs about ${mib(need)} MiB with margin, ` +
          `but the filesystem holding the new disk's directory has ${mib(d.availableBytes)} MiB free. Free space there or delete data first.`,
      );
    }
    return;
  }
  const [s, d] = await Promise.all([usedBytes(src), usedBytes(dst)]);
  const need = requiredBytes(s.usedBytes);
  const have = d.availableBytes + d.usedBytes;
  if (need > have) {
    throw new ConflictError(
      `The new disk is too small: the data on ${src} uses ${mib(s.usedBytes)} MiB and needs about ${mib(need)} MiB with margin, ` +
        `but the new disk holds ${mib(have)} MiB. Choose a persistent_disk of at least ${mib(need)} MiB or delete data first.`,
    );
  }
  if (s.usedInodes > d.totalInodes) {
    throw new ConflictError(
      `The new disk has ${d.totalInodes} inodes but ${src} uses ${s.usedInodes}; choose a larger persistent_disk.`,
    );
  }
}

/** Copies everything under `src` into `dst` (both directories, typically mount points). */
export async function copyTree(src: string, dst: string, options: CopyOptions = {}): Promise<CopyStats> {
  const started = Date.now();
  if ((options.engine ?? 'cp') === 'rsync') {
    const stats = await runRsync(
      [
        '-aHAXS',
        '--numeric-ids',
        '--modify-window=-1',
        '--no-inc-recursive',
        `${slash(src)}`,
        `${slash(dst)}`,
      ],
      options,
    );
    return { ...stats, durationMs: Date.now() - started };
  }
  const [srcUse, dstBase] = await Promise.all([options.sharedFilesystem ? treeUsage(src) : usedBytes(src), usedBytes(dst)]);
  const report = throttle(options.onProgress, options.progressIntervalMs);
  const poll = async (): Promise<CopyProgress> => {
    const now = await usedBytes(dst);
    return {
      bytesCopied: Math.max(0, now.usedBytes - dstBase.usedBytes),
      filesCopied: Math.max(0, now.usedInodes - dstBase.usedInodes),
      bytesTotal: srcUse.usedBytes,
      filesTotal: srcUse.usedInodes,
    };
  };
  const timer = setInterval(() => {
    poll().then(report, () => undefined);
  }, options.progressIntervalMs ?? 500);
  try {
    // `src/.` copies the contents and the root directory's own owner, mode and times.
    // Files deleted while cp runs (a database's temp files) are not an error: the delta pass and
    // the verification, with the containers stopped, are what make the copy exact.
    await run(
      'cp',
      ['-a', '--sparse=auto', `${slash(src)}.`, slash(dst)],
      options.signal,
      undefined,
      (_code, stderr) => onlyVanished(stderr),
    );
  } finally {
    clearInterval(timer);
  }
  await syncFs(dst);
  const last = await poll();
  options.onProgress?.(last);
  return { bytesCopied: last.bytesCopied, filesCopied: last.filesCopied, durationMs: Date.now() - started };
}

/** Makes `dst` identical to `src` (changed and new files, deletions, attributes). */
export async function copyDelta(
  src: string,
  dst: string,
  options: CopyOptions & { checksumSinceMs?: number } = {},
): Promise<CopyStats> {
  const started = Date.now();
  let extraBytes = 0;
  let extraFiles = 0;
  if (options.checksumSinceMs !== undefined) {
    // Files changed since the bulk copy started are compared by content (rsync -c), not by size and
    // mtime: a file rewritten with its mtime restored is caught here, while the containers still run.
    const changed = [...(await walk(src, options.signal)).entries()]
      .filter(
        ([, e]) =>
          e.type === 'file' &&
          (e.ctimeMs >= options.checksumSinceMs! || e.mtimeMs >= options.checksumSinceMs!),
      )
      .map(([p]) => p);
    if (changed.length > 0) {
      const list = join(tmpdir(), `bosun-migrate-${process.pid}-${Date.now()}.list`);
      await writeFile(list, changed.join('\0'));
      try {
        const s = await runRsync(
          ['-aAXS', '-c', '--numeric-ids', '--from0', `--files-from=${list}`, slash(src), slash(dst)],
          options.signal ? { signal: options.signal } : {},
        );
        extraBytes = s.bytesCopied;
        extraFiles = s.filesCopied;
      } finally {
        await rm(list, { force: true });
      }
    }
  }
  const stats = await runRsync(
    [
      '-aHAXS',
      '--numeric-ids',
      '--delete',
      '--modify-window=-1',
      '--no-inc-recursive',
      slash(src),
      slash(dst),
    ],
    options,
  );
  // Flush both now (while the containers may still run), not in the unmounts of the swap.
  await Promise.all([syncFs(dst), syncFs(src)]);
  return {
    bytesCopied: stats.bytesCopied + extraBytes,
    filesCopied: stats.filesCopied + extraFiles,
    durationMs: Date.now() - started,
  };
}

/** syncfs(2) of the filesystem holding `dir` (coreutils `sync -f`). */
export async function syncFs(dir: string): Promise<void> {
  await run('sync', ['-f', dir]);
}

export interface VerifyResult {
  files: number;
  checksummed: number;
  durationMs: number;
}

interface Entry {
  type: 'file' | 'dir' | 'symlink' | 'other';
  mode: number;
  uid: number;
  gid: number;
  size: number;
  nlink: number;
  ino: number;
  ctimeMs: number;
  mtimeMs: number;
  /** As find prints it (seconds with nanoseconds): compared exactly. */
  mtime: string;
  target?: string;
}

/**
 * Compares the two trees and throws when they differ: file list, types, modes, owners, sizes,
 * file mtimes, symlink targets and hard-link structure everywhere; content (SHA-256) of the regular
 * files whose change time is at or after `changedSinceMs` (those the bulk copy may have caught mid-write).
 */
export async function verifyTrees(
  src: string,
  dst: string,
  changedSinceMs: number,
  signal?: AbortSignal,
): Promise<VerifyResult> {
  const started = Date.now();
  const [a, b] = await Promise.all([walk(src, signal), walk(dst, signal)]);
  return compareWalks(src, dst, a, b, changedSinceMs, started, signal);
}

async function compareWalks(
  src: string,
  dst: string,
  a: Map<string, Entry>,
  b: Map<string, Entry>,
  changedSinceMs: number,
  started: number,
  signal?: AbortSignal,
): Promise<VerifyResult> {
  const problems: string[] = [];
  const note = (p: string): void => {
    if (problems.length < 20) problems.push(p);
  };
  for (const path of b.keys()) if (!a.has(path)) note(`${path}: on the new disk only`);
  const firstPathOfInode = new Map<number, string>();
  const toHash: string[] = [];
  for (const [path, s] of a) {
    const d = b.get(path);
    if (!d) {
      note(`${path}: missing on the new disk`);
      continue;
    }
    if (s.type !== d.type) note(`${path}: ${s.type} became ${d.type}`);
    if (s.mode !== d.mode) note(`${path}: mode ${s.mode.toString(8)} became ${d.mode.toString(8)}`);
    if (s.uid !== d.uid || s.gid !== d.gid) note(`${path}: owner ${s.uid}:${s.gid} became ${d.uid}:${d.gid}`);
    if (s.type === 'symlink' && s.target !== d.target) note(`${path}: symlink target differs`);
    if (s.type !== 'file') continue;
    if (s.size !== d.size) note(`${path}: size ${s.size} became ${d.size}`);
    if (s.mtime !== d.mtime) note(`${path}: modification time differs`);
    if (s.nlink !== d.nlink) note(`${path}: ${s.nlink} hard links became ${d.nlink}`);
    if (s.nlink > 1) {
      const first = firstPathOfInode.get(s.ino);
      if (first === undefined) firstPathOfInode.set(s.ino, path);
      else if (b.get(first)?.ino !== d.ino) note(`${path}: no longer a hard link of ${first}`);
    }
    if (s.ctimeMs >= changedSinceMs || s.mtimeMs >= changedSinceMs) toHash.push(path);
  }
  // A few files at a time: reads of large files overlap, without opening thousands at once.
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < toHash.length) {
      throwIfAborted(signal);
      const path = toHash[next++]!;
      const [h1, h2] = await Promise.all([sha256(join(src, path)), sha256(join(dst, path))]);
      if (h1 !== h2) note(`${path}: content differs`);
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
  if (problems.length > 0) {
    throw new InternalError(`The copy on the new disk does not match ${src}: ${problems.join('; ')}.`, {
      details: { problems },
    });
  }
  return { files: a.size, checksummed: toHash.length, durationMs: Date.now() - started };
}

export interface FinalDeltaResult extends CopyStats {
  verified: VerifyResult;
}

/**
 * The stopped window's copy + verification in as few tree walks as possible: one walk of each tree
 * finds what differs (missing, extra, other type, mode, owner, size, mtime, link count or link target,
 * plus every entry whose ctime is at or after `changedSinceMs`, which covers xattr and ACL changes);
 * extras are deleted, the rest is copied by rsync from that list only; then the trees are verified
 * (walked again only when something was copied). Equivalent to copyDelta + verifyTrees, without
 * rsync's own walk of both trees.
 */
export async function copyFinalDelta(
  src: string,
  dst: string,
  changedSinceMs: number,
  options: CopyOptions = {},
): Promise<FinalDeltaResult> {
  const started = Date.now();
  const signal = options.signal;
  let [a, b] = await Promise.all([walk(src, signal), walk(dst, signal)]);
  const list: string[] = [];
  const extras: string[] = [];
  for (const [path, d] of b) {
    const s = a.get(path);
    if (!s || s.type !== d.type) {
      // Only the top-most extra: deleting a directory deletes what is under it.
      const parent = path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : '';
      const parentS = a.get(parent);
      const parentD = b.get(parent);
      if (parent === '' || (parentS !== undefined && parentS.type === parentD?.type)) extras.push(path);
    }
  }
  for (const [path, s] of a) {
    const d = b.get(path);
    const differs =
      !d ||
      s.type !== d.type ||
      s.mode !== d.mode ||
      s.uid !== d.uid ||
      s.gid !== d.gid ||
      s.mtime !== d.mtime ||
      (s.type === 'file' && (s.size !== d.size || s.nlink !== d.nlink)) ||
      (s.type === 'symlink' && s.target !== d.target) ||
      s.ctimeMs >= changedSinceMs;
    if (differs) list.push(path);
  }
  let copied = { bytesCopied: 0, filesCopied: 0 };
  if (extras.length > 0 || list.length > 0) {
    throwIfAborted(signal);
    await Promise.all(extras.map((p) => rm(join(dst, p), { recursive: true, force: true })));
    if (list.length > 0) {
      const file = join(tmpdir(), `bosun-migrate-${process.pid}-${Date.now()}.list`);
      await writeFile(file, list.join('\0'));
      try {
        // -I: the listed entries are copied without rsync's size+mtime quick check (a rewrite that
        // kept both is listed through its ctime); the list is only what changed, so this costs little.
        copied = await runRsync(
          [
            '-aHAXS',
            '-I',
            '--numeric-ids',
            '--modify-window=-1',
            '--from0',
            `--files-from=${file}`,
            slash(src),
            slash(dst),
          ],
          options,
        );
      } finally {
        await rm(file, { force: true });
      }
    }
    throwIfAborted(signal);
    [a, b] = await Promise.all([walk(src, signal), walk(dst, signal)]);
  }
  const verified = await compareWalks(src, dst, a, b, changedSinceMs, Date.now(), signal);
  return { ...copied, durationMs: Date.now() - started, verified };
}

/**
 * Every entry under `root` with its metadata, from one `find -printf` (a fraction of the time of
 * an lstat per entry from Node, which matters: verification runs while the containers are stopped).
 * NUL-separated: paths and link targets may contain anything but NUL.
 */
async function walk(root: string, signal?: AbortSignal): Promise<Map<string, Entry>> {
  let out = '';
  // Entries vanishing during the walk (containers still running, for the catch-up pass) are fine.
  await run(
    'find',
    [root, '-mindepth', '1', '-printf', '%y %m %U %G %s %n %i %T@ %C@\\0%P\\0%l\\0'],
    signal,
    (t) => {
      out += t;
    },
    (_code, stderr) => onlyVanished(stderr),
  );
  const parts = out.split('\0');
  const entries = new Map<string, Entry>();
  for (let i = 0; i + 2 < parts.length; i += 3) {
    const [y, m, uid, gid, size, nlink, ino, mtime, ctime] = parts[i]!.split(' ');
    const type = y === 'f' ? 'file' : y === 'd' ? 'dir' : y === 'l' ? 'symlink' : 'other';
    const e: Entry = {
      type,
      mode: parseInt(m ?? '0', 8),
      uid: Number(uid),
      gid: Number(gid),
      size: Number(size),
      nlink: Number(nlink),
      ino: Number(ino),
      mtime: mtime ?? '',
      mtimeMs: Number(mtime) * 1000,
      ctimeMs: Number(ctime) * 1000,
    };
    if (type === 'symlink') e.target = parts[i + 2];
    entries.set(parts[i + 1]!, e);
  }
  return entries;
}

function sha256(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(file)
      .on('data', (c) => h.update(c))
      .on('error', reject)
      .on('end', () => resolve(h.digest('hex')));
  });
}

/** rsync with --info=progress2; parses its running totals ("1,234  12% … (xfr#5, to-chk=…)"). */
async function runRsync(args: string[], options: CopyOptions): Promise<Omit<CopyStats, 'durationMs'>> {
  const report = throttle(options.onProgress, options.progressIntervalMs);
  let bytes = 0;
  let files = 0;
  let total = 0;
  const onOutput = (text: string): void => {
    for (const line of text.split(/[\r\n]/)) {
      const m = /^\s*([\d,]+)\s+(\d+)%.*?(?:xfr#(\d+))?(?:,\s*(?:to|ir)-chk=\d+\/(\d+))?\)?\s*$/.exec(line);
      if (!m) continue;
      bytes = Number(m[1]!.replaceAll(',', ''));
      if (m[3] !== undefined) files = Number(m[3]);
      if (m[4] !== undefined) total = Number(m[4]);
      const pct = Number(m[2]);
      report({
        bytesCopied: bytes,
        filesCopied: files,
        bytesTotal: pct > 0 ? Math.round((bytes * 100) / pct) : 0,
        filesTotal: total,
      });
    }
  };
  // Exit 24: some source files vanished during the transfer (see copyTree about cp's).
  // 23 with only "No such file" errors: a file vanished between listing and reading its ACLs/xattrs.
  await run(
    'rsync',
    ['--info=progress2', ...args],
    options.signal,
    onOutput,
    (code, stderr) => code === 24 || (code === 23 && rsyncOnlyVanished(stderr)),
  );
  options.onProgress?.({ bytesCopied: bytes, filesCopied: files, bytesTotal: bytes, filesTotal: total });
  return { bytesCopied: bytes, filesCopied: files };
}

const KILL_GRACE_MS = 5000;

/**
 * Runs a copier under `setpriv --pdeathsig KILL`: when the agent dies mid-copy the copier dies with
 * it, so that nothing keeps writing to (and holding busy) the migration mount the re-run cleans up.
 * In its own process group, so that an abort stops rsync's helper processes too; an aborted run
 * rejects (CancelledError) only after its output pipes closed, i.e. every process of it exited.
 */
function run(
  cmd: string,
  args: string[],
  signal?: AbortSignal,
  onStdout?: (text: string) => void,
  tolerate?: (code: number, stderr: string) => boolean,
): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new CancelledError(`The disk copy was cancelled before ${cmd} started.`));
      return;
    }
    const child = spawn('setpriv', ['--pdeathsig', 'KILL', '--', cmd, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let stderr = '';
    let aborted = false;
    let killTimer: NodeJS.Timeout | undefined;
    const killGroup = (sig: NodeJS.Signals): void => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, sig);
      } catch {
        // already gone
      }
    };
    const onAbort = (): void => {
      aborted = true;
      killGroup('SIGTERM');
      killTimer = setTimeout(() => killGroup('SIGKILL'), KILL_GRACE_MS);
      killTimer.unref();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    child.stdout.setEncoding('utf8').on('data', (t: string) => onStdout?.(t));
    child.stderr.setEncoding('utf8').on('data', (t: string) => {
      stderr = (stderr + t).slice(-256 * 1024);
    });
    child.on('error', (err) => {
      signal?.removeEventListener('abort', onAbort);
      reject(new InternalError(`Could not run ${cmd} to copy the persistent disk: ${err.message}`, { cause: err }));
    });
    child.on('close', (code, sig) => {
      signal?.removeEventListener('abort', onAbort);
      clearTimeout(killTimer);
      if (aborted) {
        // Whatever it had done: the pass did not finish.
        killGroup('SIGKILL');
        reject(new CancelledError(`The disk copy was cancelled: ${cmd} was stopped.`));
      } else if (code === 0 || (code !== null && tolerate?.(code, stderr))) resolve();
      else
        reject(
          new InternalError(
            `${cmd} failed while copying the persistent disk (${sig ? `signal ${sig}` : `exit ${code}`}): ${stderr.trim().split('\n').slice(-3).join(' | ') || 'no output'}`,
          ),
        );
    });
  });
}

/** True when every error line of cp says a source file disappeared. */
function onlyVanished(stderr: string): boolean {
  const lines = stderr.split('\n').filter((l) => l.trim() !== '');
  return lines.length > 0 && lines.every((l) => /No such file or directory$/.test(l));
}

function rsyncOnlyVanished(stderr: string): boolean {
  const lines = stderr
    .split('\n')
    .filter(
      (l) =>
        l.trim() !== '' &&
        !/^(rsync error: some files|rsync warning: some files vanished|file has vanished)/.test(l),
    );
  return lines.every((l) => /No such file or directory \(2\)$/.test(l));
}

function throttle(listener: ProgressListener | undefined, intervalMs = 500): ProgressListener {
  let last = 0;
  return (p) => {
    const now = Date.now();
    if (!listener || now - last < intervalMs) return;
    last = now;
    listener(p);
  };
}

function slash(dir: string): string {
  return dir.endsWith('/') ? dir : `${dir}/`;
}

function mib(bytes: number): number {
  return Math.ceil(bytes / 1024 / 1024);
}
