/**
 * `bosun down --purge` for a director whose VMs live in an external CPI's cloud: every VM, disk and
 * stemcell the director's database records is deleted through that CPI (the director is stopped by
 * then). Nothing is forgotten on failure: when the CPI cannot delete something, the data directory
 * (and with it the record of what is left) is kept, and running the command again retries.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ExternalCloud } from '../cloud/external/index.js';
import { DiskNotFoundError, VmNotFoundError } from '../cloud/cloud.js';
import { errorMessage, InvalidInputError } from '../common/errors.js';
import { loadDaemonConfig } from '../director/daemon/daemon-config.js';
import { dataDirPaths } from '../director/daemon/data-dir.js';
import { Store } from '../store/store.js';

/** `<data-dir>/cloud.json`, written by every director start. */
export interface RecordedCloud {
  type: 'local' | 'external';
  configFile?: string;
}

export async function readRecordedCloud(dataDir: string): Promise<RecordedCloud | null> {
  try {
    const c = JSON.parse(await readFile(dataDirPaths(dataDir).cloudFile, 'utf8')) as Partial<RecordedCloud>;
    if (c.type !== 'local' && c.type !== 'external') return null;
    return typeof c.configFile === 'string' ? { type: c.type, configFile: c.configFile } : { type: c.type };
  } catch {
    return null;
  }
}

/** What the database records as living in the cloud. */
async function recordedObjects(dataDir: string): Promise<{ vms: string[]; disks: string[]; stemcells: string[] }> {
  const store = await Store.create({ kind: 'sqlite', path: join(dataDir, 'director.sqlite') });
  try {
    const vms = new Set(await store.vms.listCids());
    for (const i of await store.instances.listAll()) if (i.vmCid !== null) vms.add(i.vmCid);
    const disks = (await store.disks.list()).map((d) => d.cid);
    const stemcells = (await store.stemcells.list()).map((s) => s.cid);
    return { vms: [...vms], disks: [...new Set(disks)], stemcells: [...new Set(stemcells)] };
  } finally {
    await store.close();
  }
}

/**
 * Deletes the recorded VMs, then the disks, then the stemcells, through the director's CPI.
 * Returns what could not be deleted ("VM vm-1: <why>"); a VM or disk the cloud no longer has
 * counts as deleted.
 */
export async function purgeExternalCloud(dataDir: string, configFile: string | undefined, say: (line: string) => void): Promise<string[]> {
  if (configFile === undefined) {
    throw new InvalidInputError(
      `The director of ${dataDir} ran with an external CPI, but no director config file was recorded; nothing was deleted. Give the config it ran with: bosun down --purge --director-config FILE.`,
    );
  }
  const config = await loadDaemonConfig({ dataDir, configFile }).catch((err: unknown) => {
    throw new InvalidInputError(
      `The director of ${dataDir} ran with the external CPI of ${configFile}, which cannot be loaded now (${errorMessage(err)}); nothing was deleted. Restore the file, or give the config it ran with: bosun down --purge --director-config FILE.`,
      { cause: err },
    );
  });
  if (config.cloud.type !== 'external') {
    throw new InvalidInputError(`${configFile} no longer names an external CPI (cloud.type is ${config.cloud.type}), but the director ran with one; nothing was deleted. Give the config it ran with: bosun down --purge --director-config FILE.`);
  }
  const c = config.cloud;
  const cloud = new ExternalCloud({ cpi: c.cpi, cpiArgs: c.cpiArgs, properties: c.properties, timeoutsMs: c.timeoutsMs, resizeInPlace: c.resizeInPlace });
  const objects = await recordedObjects(dataDir);
  say(`deleting ${objects.vms.length} VMs, ${objects.disks.length} disks and ${objects.stemcells.length} stemcells through the CPI ${c.cpi}`);
  const left: string[] = [];
  const attempt = async (what: string, gone: (err: unknown) => boolean, del: () => Promise<void>): Promise<void> => {
    say(`deleting ${what}`);
    try {
      await del();
    } catch (err) {
      if (gone(err)) return;
      say(`  could not delete ${what}: ${errorMessage(err)}`);
      left.push(`${what}: ${errorMessage(err)}`);
    }
  };
  for (const vm of objects.vms) await attempt(`VM ${vm}`, (e) => e instanceof VmNotFoundError, () => cloud.deleteVm(vm));
  for (const disk of objects.disks) await attempt(`disk ${disk}`, (e) => e instanceof DiskNotFoundError, () => cloud.deleteDisk(disk));
  for (const stemcell of objects.stemcells) await attempt(`stemcell ${stemcell}`, () => false, () => cloud.deleteStemcell(stemcell));
  return left;
}
