import { execFile } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { errorMessage } from '../common/errors.js';
import { LocalCloud } from '../cloud/local/index.js';
import { dataDirPaths } from '../director/daemon/data-dir.js';

const exec = promisify(execFile);

/**
 * `bosun down --purge`: deletes every VM and disk of the director's local cloud (its namespaces,
 * processes, loop devices and cgroups go with them), a registry left behind, the bridge, and the
 * data directory. Only what lives under this data directory is touched.
 */
export async function purgeDataDir(
  dataDir: string,
  bridgeName: string,
  subnet: string,
  say: (line: string) => void,
): Promise<void> {
  const paths = dataDirPaths(dataDir);
  await killLeftoverRegistry(dataDir);
  const cloud = await LocalCloud.create({ dataDir: paths.cloud, bridgeName, subnet }).catch(
    (err: unknown) => {
      say(`could not open the local cloud in ${paths.cloud} (${errorMessage(err)}); removing files only`);
      return null;
    },
  );
  if (cloud) {
    for (const vmCid of await cloud.listVmCids()) {
      say(`deleting VM ${vmCid}`);
      await cloud
        .deleteVm(vmCid)
        .catch((err: unknown) => say(`  could not delete VM ${vmCid}: ${errorMessage(err)}`));
    }
    for (const diskCid of await cloud.listDiskCids()) {
      say(`deleting disk ${diskCid}`);
      await cloud
        .deleteDisk(diskCid)
        .catch((err: unknown) => say(`  could not delete disk ${diskCid}: ${errorMessage(err)}`));
    }
    await exec('ip', ['link', 'del', bridgeName]).then(
      () => say(`deleted bridge ${bridgeName}`),
      () => undefined,
    );
  }
  await rm(dataDir, { recursive: true, force: true });
  say(`deleted ${dataDir}`);
}

async function killLeftoverRegistry(dataDir: string): Promise<void> {
  const dir = join(dataDir, 'registry');
  try {
    const pid = Number((await readFile(join(dir, 'registry.pid'), 'utf8')).trim());
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8');
    // Only a registry serving this data directory's config is ours.
    if (cmdline.includes(join(dir, 'config.yml'))) process.kill(pid, 'SIGKILL');
  } catch {
    // no registry left behind
  }
}
