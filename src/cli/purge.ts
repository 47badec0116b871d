import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { lstat, readdir, readFile, rm } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { promisify } from 'node:util';
import { errorMessage, InvalidInputError, UnavailableError } from '../common/errors.js';
import { purgeExternalCloud, readRecordedCloud } from './purge-external.js';
import { LocalCloud } from '../cloud/local/index.js';
import { stopLeftoverRegistry } from '../registry/registry-server.js';
import { dataDirPaths } from '../director/daemon/data-dir.js';

const exec = promisify(execFile);

/** The local cloud's network as the director recorded it; null when no director ever recorded one. */
export interface DirectorNetwork {
  bridgeName: string;
  subnet: string;
}

/** `<data-dir>/network.json`, written by every director start and kept after it stops. */
export async function readDirectorNetwork(dataDir: string): Promise<DirectorNetwork | null> {
  try {
    const n = JSON.parse(await readFile(dataDirPaths(dataDir).networkFile, 'utf8')) as Partial<DirectorNetwork>;
    return typeof n.bridgeName === 'string' && typeof n.subnet === 'string'
      ? { bridgeName: n.bridgeName, subnet: n.subnet }
      : null;
  } catch {
    return null;
  }
}

/** Files only a director writes: one of them must be there for a directory to count as a data dir. */
export const DATA_DIR_MARKERS = ['director.sqlite', 'admin-token', join('ca', 'ca.pem'), 'network.json', 'cloud.json'];

/** The top-level names a director writes into its data directory (dataDirPaths, the database, the registry). */
function knownEntries(dataDir: string): Set<string> {
  const names = Object.values(dataDirPaths(dataDir))
    .map((p) => relative(dataDir, p).split(sep)[0] ?? '')
    .filter((n) => n !== '');
  return new Set([...names, 'director.sqlite', 'director.sqlite-wal', 'director.sqlite-shm', 'registry']);
}

/**
 * Why `dataDir` must not be purged, or null when it is a bosun data directory: it holds one of the
 * director's marker files and nothing a director does not write (an empty directory holds nothing
 * to lose). `rm -rf` of a mistyped `--data-dir` must never reach a home or a system directory.
 */
export async function notADataDirReason(dataDir: string): Promise<string | null> {
  const st = await lstat(dataDir).catch(() => null);
  if (st === null) return null;
  if (!st.isDirectory()) return `${dataDir} is not a directory`;
  const entries = await readdir(dataDir);
  if (entries.length === 0) return null;
  const known = knownEntries(dataDir);
  const foreign = entries.filter((e) => !known.has(e));
  if (foreign.length > 0) {
    const shown = foreign.slice(0, 5).join(', ') + (foreign.length > 5 ? ` and ${foreign.length - 5} more` : '');
    return `${dataDir} holds files a bosun director does not write (${shown})`;
  }
  const marked = await Promise.all(DATA_DIR_MARKERS.map((m) => lstat(join(dataDir, m)).then(() => true, () => false)));
  if (!marked.includes(true)) return `${dataDir} holds none of a director's files (${DATA_DIR_MARKERS.join(', ')})`;
  return null;
}

/** Throws, before anything is stopped or deleted, unless `dataDir` is a bosun data directory. */
export async function assertPurgeable(dataDir: string): Promise<void> {
  const reason = await notADataDirReason(dataDir);
  if (reason === null) return;
  throw new InvalidInputError(
    `Refusing to purge ${dataDir}: it is not a bosun data directory (${reason}). Nothing was stopped or deleted; check --data-dir (or the data dir in the CLI target config), or delete the directory by hand if it really is one.`,
  );
}

/**
 * `bosun down --purge`: deletes every VM and disk of the director's cloud — through its CPI for an
 * external cloud (purge-external.ts); for the local cloud its namespaces,
 * processes, loop devices and cgroups go with them — a registry left behind, the bridge, and the
 * data directory. Only what lives under this data directory is touched, and only the bridge this
 * director recorded as its own is deleted: never a default `bosun0` it did not use. A directory
 * that is not a bosun data directory is refused (assertPurgeable).
 */
export async function purgeDataDir(
  dataDir: string,
  network: DirectorNetwork | null,
  say: (line: string) => void,
  options: { directorConfig?: string } = {},
): Promise<void> {
  const paths = dataDirPaths(dataDir);
  await assertPurgeable(dataDir);
  await stopLeftoverRegistry(join(dataDir, 'registry'));
  const recorded = await readRecordedCloud(dataDir);
  if (recorded?.type === 'external' || options.directorConfig !== undefined) {
    const left = await purgeExternalCloud(dataDir, options.directorConfig ?? recorded?.configFile, say);
    if (left.length > 0) {
      throw new UnavailableError(
        `The CPI could not delete ${left.length} of the director's cloud objects (${left.join('; ')}). ${dataDir} is kept, with the record of what is left: fix the CPI's problem and run \`bosun down --purge\` again.`,
      );
    }
  } else if (network === null && !hasCloudObjects(paths.cloud)) {
    say(`no local cloud recorded in ${dataDir}; removing files only (no bridge is deleted)`);
  } else {
    // Without a recorded network the cloud is opened on the default bridge only to delete its VMs
    // and disks; that bridge is deleted only when this purge had to create it.
    const bridgeName = network?.bridgeName ?? 'bosun0';
    const bridgeExisted = existsSync(`/sys/class/net/${bridgeName}`);
    const cloud = await LocalCloud.create({
      dataDir: paths.cloud,
      bridgeName,
      subnet: network?.subnet ?? '10.244.0.0/16',
    }).catch((err: unknown) => {
      say(`could not open the local cloud in ${paths.cloud} (${errorMessage(err)}); removing files only`);
      return null;
    });
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
      if (network !== null || !bridgeExisted) {
        await exec('ip', ['link', 'del', bridgeName]).then(
          () => say(`deleted bridge ${bridgeName}`),
          () => undefined,
        );
      }
    }
  }
  await rm(dataDir, { recursive: true, force: true });
  say(`deleted ${dataDir}`);
}

function hasCloudObjects(cloudDir: string): boolean {
  const entries = (sub: string): string[] => {
    try {
      return readdirSync(join(cloudDir, sub));
    } catch {
      return [];
    }
  };
  return entries('vms').length > 0 || entries('disks').length > 0;
}

