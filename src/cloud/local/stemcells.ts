/**
 * The local cloud's stemcells: create_stemcell unpacks the image (a gzipped root filesystem
 * tarball, formats general-tar / warden-tar) once, into `<dataDir>/stemcells/<cid>/rootfs`; every
 * VM of that stemcell mounts it read-only as the lower layer of its overlay root.
 *
 * With a stemcell cache (`stemcellCacheDir`, shared by several clouds, e.g. one per test file) the
 * image is unpacked into `<cache>/<sha1 of the image>` instead, once for every cloud: creating the
 * same stemcell again only hashes the image. Deleting a stemcell then forgets it in this cloud and
 * leaves the cached root to the others (the cache's owner prunes it).
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { CloudError } from '../cloud.js';
import { run } from './exec.js';
import type { CloudFiles } from './store.js';

async function sha1Of(file: string): Promise<string> {
  const hash = createHash('sha1');
  await pipeline(createReadStream(file), hash);
  return hash.digest('hex');
}

/** Unpacks the image into `target` (atomically: a partial directory renamed at the end). */
async function unpackImage(imagePath: string, target: string): Promise<void> {
  const partial = `${target}.partial-${randomBytes(4).toString('hex')}`;
  await fs.mkdir(partial, { recursive: true });
  try {
    await run('tar', ['--numeric-owner', '-xzf', imagePath, '-C', partial], { timeoutMs: 10 * 60_000 });
    if (!existsSync(path.join(partial, 'usr/sbin/runsvdir-start'))) {
      throw new CloudError(
        'the stemcell image has no /usr/sbin/runsvdir-start, so no agent would start in its VMs; upload a bosun stemcell (`bosun build-stemcell`)',
      );
    }
    await fs.rename(partial, target).catch(async (err: unknown) => {
      // Another cloud sharing the cache unpacked the same image first: use theirs.
      if (!existsSync(path.join(target, 'usr/sbin/runsvdir-start'))) throw err;
    });
  } finally {
    await fs.rm(partial, { recursive: true, force: true });
  }
}

export async function unpackStemcell(
  files: CloudFiles,
  imagePath: string,
  cloudProperties: Record<string, unknown>,
  cacheDir: string | null = null,
): Promise<string> {
  const cid = `sc-${randomBytes(6).toString('hex')}`;
  const dir = files.stemcellDir(cid);
  try {
    let rootfs: string | undefined;
    await fs.mkdir(dir, { recursive: true });
    if (cacheDir === null) {
      await unpackImage(imagePath, files.stemcellRootfs(cid));
    } else {
      rootfs = path.join(cacheDir, await sha1Of(imagePath));
      if (!existsSync(path.join(rootfs, 'usr/sbin/runsvdir-start'))) {
        await fs.mkdir(cacheDir, { recursive: true });
        await unpackImage(imagePath, rootfs);
      }
      const now = new Date();
      await fs.utimes(rootfs, now, now); // its mtime says when it was last used (for the cache's pruning)
    }
    await files.writeStemcell({ cid, cloudProperties, createdAt: new Date().toISOString(), ...(rootfs === undefined ? {} : { rootfs }) });
    return cid;
  } catch (err) {
    await fs.rm(dir, { recursive: true, force: true });
    if (err instanceof CloudError) throw err;
    throw new CloudError(`could not unpack the stemcell image ${imagePath}: ${(err as Error).message}`, { cause: err });
  }
}

export async function removeStemcell(files: CloudFiles, cid: string): Promise<void> {
  const users = (await files.listVms()).filter((vm) => vm.stemcellCid === cid).map((vm) => vm.cid);
  if (users.length > 0) {
    throw new CloudError(`cannot delete stemcell ${cid}: VMs ${users.join(', ')} boot from it; delete them first`);
  }
  await fs.rm(files.stemcellDir(cid), { recursive: true, force: true });
}
