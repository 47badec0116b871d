/**
 * A known data set for persistent-disk copies, and a snapshot of a tree that two copies must share:
 * many small files, a few large and sparse files, hard links, symlinks, unusual modes and owners,
 * xattrs and old mtimes.
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  chmod,
  chown,
  lstat,
  mkdir,
  readFile,
  readdir,
  readlink,
  link,
  symlink,
  utimes,
  writeFile,
  open,
} from 'node:fs/promises';
import path from 'node:path';
import { sh } from './loop-disks.js';

export interface DataSetOptions {
  smallFiles?: number;
  /** Size of each large (dense) file. */
  largeFiles?: number;
  largeMiB?: number;
  /** Bytes of each small file: between min and max. */
  smallMin?: number;
  smallMax?: number;
}

const OLD = new Date('2001-02-03T04:05:06Z');

export async function writeDataSet(root: string, o: DataSetOptions = {}): Promise<{ bytes: number }> {
  const smallFiles = o.smallFiles ?? 300;
  let bytes = 0;
  for (let i = 0; i < smallFiles; i++) {
    const dir = path.join(root, 'small', `d${i % 17}`);
    await mkdir(dir, { recursive: true });
    const min = o.smallMin ?? 1;
    const max = o.smallMax ?? 8192;
    const n = min + Math.floor(Math.random() * (max - min + 1));
    await writeFile(path.join(dir, `f${i}`), randomBytes(n));
    bytes += n;
  }
  const big = path.join(root, 'big');
  await mkdir(big, { recursive: true });
  const chunk = randomBytes(1024 * 1024);
  for (let i = 0; i < (o.largeFiles ?? 2); i++) {
    const fh = await open(path.join(big, `large${i}.bin`), 'w');
    for (let m = 0; m < (o.largeMiB ?? 8); m++) {
      chunk[0] = m;
      chunk[1] = i;
      await fh.write(chunk);
    }
    await fh.close();
    bytes += (o.largeMiB ?? 8) * 1024 * 1024;
  }
  // Sparse: 64 MiB apparent, a few KiB of data at both ends and in the middle.
  const fh = await open(path.join(big, 'sparse.img'), 'w');
  await fh.write(Buffer.from('head'), 0, 4, 0);
  await fh.write(Buffer.from('middle'), 0, 6, 32 * 1024 * 1024);
  await fh.write(Buffer.from('tail'), 0, 4, 64 * 1024 * 1024 - 4);
  await fh.close();

  const odd = path.join(root, 'odd');
  await mkdir(odd, { recursive: true });
  await writeFile(path.join(odd, 'owned'), 'owned by 1234:5678\n');
  await chown(path.join(odd, 'owned'), 1234, 5678);
  await writeFile(path.join(odd, 'setuid'), '#!/bin/sh\n');
  await chmod(path.join(odd, 'setuid'), 0o4755);
  await writeFile(path.join(odd, 'no-access'), 'secret\n');
  await chmod(path.join(odd, 'no-access'), 0o000);
  await mkdir(path.join(odd, 'sticky'));
  await chmod(path.join(odd, 'sticky'), 0o1777);
  await mkdir(path.join(odd, 'owned-dir'));
  await chown(path.join(odd, 'owned-dir'), 999, 999);
  await writeFile(path.join(odd, 'hard-a'), 'linked\n');
  await link(path.join(odd, 'hard-a'), path.join(odd, 'hard-b'));
  await link(path.join(odd, 'hard-a'), path.join(root, 'small', 'hard-c'));
  await symlink('../big/large0.bin', path.join(odd, 'rel-link'));
  await symlink('/nonexistent/target', path.join(odd, 'dangling'));
  await writeFile(path.join(odd, 'old'), 'from 2001\n');
  await utimes(path.join(odd, 'old'), OLD, OLD);
  await writeFile(path.join(odd, 'xattr'), 'has xattrs\n');
  await setXattr(path.join(odd, 'xattr'), 'user.bosun', 'resize-test');
  await writeFile(path.join(odd, 'empty'), '');
  return { bytes };
}

export async function setXattr(file: string, name: string, value: string): Promise<void> {
  await sh('python3', [
    '-c',
    'import os,sys; os.setxattr(sys.argv[1], sys.argv[2], sys.argv[3].encode())',
    file,
    name,
    value,
  ]);
}

export async function getXattrs(file: string): Promise<Record<string, string>> {
  const out = await sh('python3', [
    '-c',
    'import os,sys,json; p=sys.argv[1]; print(json.dumps({n: os.getxattr(p,n).decode() for n in os.listxattr(p)}))',
    file,
  ]);
  return JSON.parse(out) as Record<string, string>;
}

export interface SnapshotEntry {
  type: string;
  mode: number;
  uid: number;
  gid: number;
  size?: number;
  mtimeMs?: number;
  nlink?: number;
  /** The first path (in sorted order) of the same inode: hard-link structure. */
  linkGroup?: string;
  sha256?: string;
  /** Allocated bytes below apparent size: the file is sparse. */
  sparse?: boolean;
  target?: string;
}

/** Everything a faithful copy must preserve, by path (lost+found excluded: each mkfs makes its own). */
export async function snapshotTree(root: string): Promise<Record<string, SnapshotEntry>> {
  const out: Record<string, SnapshotEntry> = {};
  const inodes = new Map<number, string>();
  const visit = async (rel: string): Promise<void> => {
    const names = (await readdir(path.join(root, rel))).sort();
    for (const name of names) {
      if (rel === '' && name === 'lost+found') continue;
      const r = rel === '' ? name : `${rel}/${name}`;
      const full = path.join(root, r);
      const st = await lstat(full);
      const e: SnapshotEntry = {
        type: st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'other',
        mode: st.mode,
        uid: st.uid,
        gid: st.gid,
      };
      if (st.isSymbolicLink()) e.target = await readlink(full);
      if (st.isFile()) {
        e.size = st.size;
        e.mtimeMs = Math.trunc(st.mtimeMs);
        e.nlink = st.nlink;
        e.sparse = st.blocks * 512 < st.size;
        e.sha256 = createHash('sha256')
          .update(await readFile(full))
          .digest('hex');
        if (st.nlink > 1) {
          if (!inodes.has(st.ino)) inodes.set(st.ino, r);
          e.linkGroup = inodes.get(st.ino);
        }
      }
      out[r] = e;
      if (st.isDirectory()) await visit(r);
    }
  };
  await visit('');
  return out;
}
