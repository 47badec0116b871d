/**
 * One LocalCloud per test file, on its own bridge, subnet and temp data dir, so that test files
 * never share network or disk state. `cleanup()` (call it from afterAll, it runs even when tests
 * fail) deletes every VM and disk the cloud created and removes the bridge and the dir.
 * `stemcell()` creates the stemcell scripts/build-stemcell.sh built in this cloud (once per fixture;
 * the unpacked root is shared by every fixture through TEST_STEMCELL_CACHE, so only the first
 * test file of a stemcell version unpacks it) and returns its cid, for `createVm({ stemcell })`.
 *
 *   const fx = await createLocalCloudFixture();
 *   afterAll(() => fx.cleanup());
 *   await fx.cloud.createVm({ ...request, stemcell: await fx.stemcell() });
 */
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Logger } from '../../src/common/logger.js';
import { LocalCloud } from '../../src/cloud/local/local-cloud.js';
import { openStemcellTarball } from '../../src/stemcell/stemcell-tarball.js';
import { builtStemcellFile } from './built-stemcell.js';

const execFileAsync = promisify(execFile);

export interface LocalCloudFixture {
  cloud: LocalCloud;
  dataDir: string;
  bridgeName: string;
  subnet: string;
  /** The bridge's address: where a director/registry under test should listen. */
  hostIp: string;
  /** The cid of the built stemcell in this cloud (created on the first call). */
  stemcell(): Promise<string>;
  /** Deletes every VM and disk of this cloud, the bridge and the data dir. Never throws. */
  cleanup(): Promise<void>;
}

/**
 * Unpacked stemcell roots shared by the test clouds (by sha1 of the image); entries unused for a
 * day are pruned when a fixture creates its stemcell. Also used by the director fixture's config.
 */
export const TEST_STEMCELL_CACHE = '/var/tmp/bosun-test-stemcells';

async function pruneStemcellCache(): Promise<void> {
  const dayAgo = Date.now() - 24 * 3600_000;
  for (const name of await fs.readdir(TEST_STEMCELL_CACHE).catch(() => [] as string[])) {
    const dir = path.join(TEST_STEMCELL_CACHE, name);
    const stat = await fs.stat(dir).catch(() => null);
    if (stat !== null && stat.mtimeMs < dayAgo) await fs.rm(dir, { recursive: true, force: true }).catch(() => undefined);
  }
}

export interface LocalCloudFixtureOptions {
  agentCommand?: string[];
  agentRestartDelaySeconds?: number;
  logger?: Logger;
}

async function sh(file: string, args: string[]): Promise<string> {
  const { stdout } = await execFileAsync(file, args, { encoding: 'utf8' });
  return stdout;
}

/** Picks a bridge name bosunt<N> not in use and a /24 that overlaps no existing route. */
async function pickNetwork(): Promise<{ bridgeName: string; subnet: string; hostIp: string }> {
  const links = await sh('ip', ['-o', 'link', 'show']);
  const routes = await sh('ip', ['-4', 'route', 'show', 'table', 'all']);
  const addrs = await sh('ip', ['-o', '-4', 'addr', 'show']);
  for (let attempt = 0; attempt < 200; attempt++) {
    const n = 100 + Math.floor(Math.random() * 151);
    const second = 200 + Math.floor(Math.random() * 50);
    const bridgeName = `bosunt${n}`;
    const prefix = `10.${second}.${n}.`;
    if (links.includes(` ${bridgeName}:`) || links.includes(` ${bridgeName}@`)) continue;
    if (routes.includes(prefix) || addrs.includes(prefix)) continue;
    // Creating the bridge here claims the name atomically: a concurrent test file picking the
    // same N fails to create it and picks again (LocalCloud.create adopts an existing bridge).
    const claimed = await execFileAsync('ip', ['link', 'add', 'name', bridgeName, 'type', 'bridge']).then(
      () => true,
      () => false,
    );
    if (!claimed) continue;
    return { bridgeName, subnet: `${prefix}0/24`, hostIp: `${prefix}1` };
  }
  throw new Error('could not find a free bridge name and subnet for the test local cloud');
}

export async function createLocalCloudFixture(
  options: LocalCloudFixtureOptions = {},
): Promise<LocalCloudFixture> {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'bosun-test-'));
  // scripts/cleanup-test-resources.sh uses these to tell leftovers of dead runs from live ones.
  await fs.writeFile(path.join(dataDir, 'owner.pid'), `${process.pid}\n`);
  const net = await pickNetwork();
  await fs.writeFile(path.join(dataDir, 'bridge'), `${net.bridgeName}\n`);
  let cloud: LocalCloud;
  try {
    cloud = await LocalCloud.create({
      dataDir,
      bridgeName: net.bridgeName,
      subnet: net.subnet,
      ...(options.agentCommand ? { agentCommand: options.agentCommand } : {}),
      ...(options.agentRestartDelaySeconds
        ? { agentRestartDelaySeconds: options.agentRestartDelaySeconds }
        : {}),
      ...(options.logger ? { logger: options.logger } : {}),
      stemcellCacheDir: TEST_STEMCELL_CACHE,
    });
  } catch (err) {
    await execFileAsync('ip', ['link', 'del', net.bridgeName]).catch(() => undefined);
    await fs.rm(dataDir, { recursive: true, force: true });
    throw err;
  }

  const cleanup = async (): Promise<void> => {
    const problems: string[] = [];
    const vmCids = await cloud.listVmCids().catch(() => [] as string[]);
    await Promise.all(
      vmCids.map((cid) =>
        cloud.deleteVm(cid).catch((err: unknown) => problems.push(`VM ${cid}: ${String(err)}`)),
      ),
    );
    for (const cid of await cloud.listDiskCids().catch(() => [] as string[])) {
      await cloud.deleteDisk(cid).catch((err: unknown) => problems.push(`disk ${cid}: ${String(err)}`));
    }
    await execFileAsync('ip', ['link', 'del', net.bridgeName]).catch(() => undefined);
    // Anything mounted under the dir by a test (e.g. a disk mounted on the host) must go before rm.
    const mounts = await fs.readFile('/proc/self/mounts', 'utf8').catch(() => '');
    for (const line of mounts.split('\n').reverse()) {
      const target = line.split(' ')[1];
      if (target?.startsWith(dataDir + '/'))
        await execFileAsync('umount', ['-l', target]).catch(() => undefined);
    }
    await fs
      .rm(dataDir, { recursive: true, force: true })
      .catch((err: unknown) => problems.push(String(err)));
    if (problems.length > 0) {
      console.warn(
        `local cloud fixture cleanup left problems (run scripts/cleanup-test-resources.sh):\n${problems.join('\n')}`,
      );
    }
  };

  let stemcellCid: Promise<string> | undefined;
  const stemcell = (): Promise<string> => {
    stemcellCid ??= (async () => {
      const image = path.join(dataDir, 'stemcell.image');
      const opened = await openStemcellTarball(builtStemcellFile(), image);
      try {
        return await cloud.createStemcell(image, opened.manifest.cloudProperties);
      } finally {
        await fs.rm(image, { force: true });
        await pruneStemcellCache();
      }
    })();
    return stemcellCid;
  };

  return { cloud, dataDir, bridgeName: net.bridgeName, subnet: net.subnet, hostIp: net.hostIp, stemcell, cleanup };
}
