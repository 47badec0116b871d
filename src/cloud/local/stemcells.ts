/**
 * The local cloud's stemcells: create_stemcell unpacks the image (a gzipped root filesystem
 * tarball, formats general-tar / warden-tar) once, into `<dataDir>/stemcells/<cid>/rootfs`; every
 * VM of that stemcell mounts it read-only as the lower layer of its overlay root.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { CloudError } from '../cloud.js';
import { run } from './exec.js';
import type { CloudFiles } from './store.js';

export async function unpackStemcell(files: CloudFiles, imagePath: string, cloudProperties: Record<string, unknown>): Promise<string> {
  const cid = `sc-${randomBytes(6).toString('hex')}`;
  const dir = files.stemcellDir(cid);
  const partial = `${files.stemcellRootfs(cid)}.partial`;
  await fs.mkdir(partial, { recursive: true });
  try {
    await run('tar', ['--numeric-owner', '-xzf', imagePath, '-C', partial], { timeoutMs: 10 * 60_000 });
    if (!existsSync(path.join(partial, 'usr/sbin/runsvdir-start'))) {
      throw new CloudError(
        'the stemcell image has no /usr/sbin/runsvdir-start, so no agent would start in its VMs; upload a bosun stemcell (`bosun build-stemcell`)',
      );
    }
    await fs.rename(partial, files.stemcellRootfs(cid));
    await files.writeStemcell({ cid, cloudProperties, createdAt: new Date().toISOString() });
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
