/**
 * The cloud contract and the local cloud's specifics, on VMs booted from the built stemcell
 * (scripts/build-stemcell.sh). Their agents get settings with no usable certificates, so they
 * exit at once and the stemcell's restart loop restarts them: the VM itself stays up.
 */
import { execFile } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalCloud } from '../../src/cloud/local/local-cloud.js';
import { childrenOf, isAlive } from '../../src/cloud/local/processes.js';
import { enterVmArgs, readFileInVm } from '../helpers/in-vm.js';
import { createLocalCloudFixture, TEST_STEMCELL_CACHE, type LocalCloudFixture } from '../helpers/local-cloud-fixture.js';
import { makeStemcellTarball } from '../helpers/stemcell-tarball-fixture.js';
import { openStemcellTarball } from '../../src/stemcell/stemcell-tarball.js';
import { describeCloudContract, vmRequest as anyVmRequest } from './cloud-contract.js';

const execFileAsync = promisify(execFile);
const sh = async (file: string, args: string[]): Promise<string> =>
  (await execFileAsync(file, args, { encoding: 'utf8' })).stdout;

let fx: LocalCloudFixture;
let stemcellCid: string;
const vmRequest = (agentId: string, diskCids: string[] = []) => anyVmRequest(agentId, diskCids, stemcellCid);

/** Every process under `pid` (its descendants), as the host sees them. */
async function descendantsOf(pid: number): Promise<number[]> {
  const all: number[] = [];
  for (const child of await childrenOf(pid)) all.push(child, ...(await descendantsOf(child)));
  return all;
}

beforeAll(async () => {
  fx = await createLocalCloudFixture();
  stemcellCid = await fx.stemcell();
});
afterAll(async () => {
  await fx?.cleanup();
});

describeCloudContract('local', () => fx.cloud, () => stemcellCid);

describe('local cloud specifics', () => {
  it('runs a VM in its own network namespace with its address, reaching the bridge, without a default route', async () => {
    const { cloud } = fx;
    const { vmCid, networks } = await cloud.createVm(vmRequest('agent-net'));
    const ip = networks.default?.ip ?? '';
    try {
      const pid = await cloud.vmPid(vmCid);
      expect(pid).not.toBeNull();
      const enter = enterVmArgs(pid ?? 0);
      expect(await sh('nsenter', [...enter, 'ip', '-o', '-4', 'addr', 'show', 'dev', 'eth0'])).toContain(
        `${ip}/24`,
      );
      const routes = await sh('nsenter', [...enter, 'ip', 'route']);
      expect(routes).toContain(fx.subnet);
      expect(routes).not.toContain('default');
      // reachability of the bridge address: a TCP connect from inside the VM to a listener of this test
      const server = net.createServer((sock) => sock.end());
      await new Promise<void>((resolve) => server.listen(0, fx.hostIp, resolve));
      try {
        const port = (server.address() as net.AddressInfo).port;
        const probe = `require('net').connect(${port}, '${fx.hostIp}').on('connect', () => process.exit(0)).on('error', () => process.exit(1))`;
        await sh('nsenter', [...enter, 'node', '-e', probe]); // the stemcell's node
      } finally {
        server.close();
      }
      // PID 1 of the VM is docker-init, and the stemcell's restart loop runs under it.
      // (The boot script execs it after its mounts: under load that may still be under way.)
      const comm = async (): Promise<string> => (await fs.readFile(`/proc/${pid}/comm`, 'utf8')).trim();
      for (let i = 0; i < 50 && (await comm()) === 'sh'; i++) await new Promise((r) => setTimeout(r, 100));
      expect(await comm()).toBe('docker-init');
      expect(await sh('nsenter', [...enter, 'ps', '-eo', 'pid,args'])).toContain('/usr/sbin/runsvdir-start');
      expect((await sh('nsenter', [...enter, 'cat', '/etc/resolv.conf'])).trim()).toBe(
        'nameserver 127.0.0.1',
      );
      // settings for the agent, where the stemcell's agent.json (File source) says
      const settings = JSON.parse(await readFileInVm(pid ?? 0, '/var/vcap/bosh/warden-cpi-agent-env.json')) as {
        listen: { host: string; port: number };
        cgroupParent: string;
        keyPem: string;
      };
      expect(settings.listen).toEqual({ host: ip, port: 6868 });
      expect(settings.cgroupParent).toBe(`/bosun-${vmCid}`);
    } finally {
      await cloud.deleteVm(vmCid);
    }
  });

  it('deleteVm leaves no process, netns, loop device, mount, cgroup dir or VM dir', async () => {
    const { cloud } = fx;
    const diskCid = await cloud.createDisk(16, {});
    const { vmCid } = await cloud.createVm(vmRequest('agent-del', [diskCid]));
    const pid = await cloud.vmPid(vmCid);
    expect(pid).not.toBeNull();
    const cgroup = `/sys/fs/cgroup/memory/bosun-${vmCid}/child`;
    await fs.mkdir(cgroup, { recursive: true });
    const dir = cloud.vmDir(vmCid);
    const processes = [pid ?? 0, ...(await descendantsOf(pid ?? 0))];
    expect(processes.length).toBeGreaterThan(1);
    expect(existsSync(`/run/netns/bosun-${vmCid}`)).toBe(true);
    expect(await sh('losetup', ['-j', cloud.diskFile(diskCid)])).toContain('/dev/loop');

    await cloud.deleteVm(vmCid);

    const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
    expect(stat === '' || / Z /.test(stat)).toBe(true); // gone, or dead and about to be reaped
    expect(existsSync(`/run/netns/bosun-${vmCid}`)).toBe(false);
    expect(await sh('losetup', ['-j', cloud.diskFile(diskCid)])).toBe('');
    expect(existsSync(`/sys/fs/cgroup/memory/bosun-${vmCid}`)).toBe(false);
    expect(existsSync(dir)).toBe(false);
    expect(await fs.readFile('/proc/self/mounts', 'utf8')).not.toContain(vmCid);
    expect(await sh('ip', ['-o', 'link', 'show'])).not.toContain(vmCid.slice(-12));
    for (const p of processes) expect(await isAlive(p), `process ${p} of the VM`).toBe(false);
    await cloud.deleteDisk(diskCid);
  });

  it('deleteVm also kills the processes of a VM whose PID 1 was never recorded', async () => {
    const { cloud } = fx;
    const { vmCid } = await cloud.createVm(vmRequest('agent-half'));
    const pid = await cloud.vmPid(vmCid);
    const file = `${cloud.vmDir(vmCid)}/vm.json`;
    const record = JSON.parse(await fs.readFile(file, 'utf8')) as Record<string, unknown>;
    await fs.writeFile(file, JSON.stringify({ ...record, pid1: null, pid1StartTime: null }));
    expect(await cloud.hasVm(vmCid)).toBe(false);
    await cloud.deleteVm(vmCid);
    // dead at once; its /proc entry goes when its (re)parent reaps it, a moment later
    const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
    expect(stat === '' || / Z /.test(stat)).toBe(true);
    expect(existsSync(`/run/netns/bosun-${vmCid}`)).toBe(false);
  });

  it('creates a sparse disk file of the requested size', async () => {
    const { cloud } = fx;
    const diskCid = await cloud.createDisk(64, {});
    try {
      const stat = await fs.stat(cloud.diskFile(diskCid));
      expect(stat.size).toBe(64 * 1024 * 1024);
      expect(stat.blocks * 512).toBeLessThan(1024 * 1024);
      await cloud.resizeDisk(diskCid, 128);
      expect((await fs.stat(cloud.diskFile(diskCid))).size).toBe(128 * 1024 * 1024);
    } finally {
      await cloud.deleteDisk(diskCid);
    }
  });

  it('reboots a VM keeping its address and disks', async () => {
    const { cloud } = fx;
    const diskCid = await cloud.createDisk(16, {});
    const { vmCid, networks } = await cloud.createVm(vmRequest('agent-reboot', [diskCid]));
    try {
      const before = await cloud.vmPid(vmCid);
      await cloud.rebootVm(vmCid);
      const after = await cloud.vmPid(vmCid);
      expect(after).not.toBeNull();
      expect(after).not.toBe(before);
      expect(await cloud.hasVm(vmCid)).toBe(true);
      expect(await cloud.getDisks(vmCid)).toEqual([diskCid]);
      const addr = await sh('nsenter', [
        '-t',
        String(after),
        '-n',
        'ip',
        '-o',
        '-4',
        'addr',
        'show',
        'dev',
        'eth0',
      ]);
      expect(addr).toContain(networks.default?.ip ?? 'none');
    } finally {
      await cloud.deleteVm(vmCid);
      await cloud.deleteDisk(diskCid);
    }
  });

  it('restarts an exiting agent inside the VM (the VM stays up)', async () => {
    const crashing = await LocalCloud.create({
      dataDir: fx.dataDir,
      bridgeName: fx.bridgeName,
      subnet: fx.subnet,
      agentRestartDelaySeconds: 0.1,
      stemcellCacheDir: TEST_STEMCELL_CACHE,
    });
    // Its settings hold no usable certificate: the agent exits, and the restart loop starts it again.
    const { vmCid } = await crashing.createVm(vmRequest('agent-crash'));
    try {
      const pid = await crashing.vmPid(vmCid);
      const consoleLog = `${crashing.vmDir(vmCid)}/ephemeral/vm-console.log`;
      const exits = async (): Promise<number> =>
        ((await fs.readFile(consoleLog, 'utf8').catch(() => '')).match(/runsvdir-start: agent exited with status [1-9]/g) ?? []).length;
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline && (await exits()) < 3) await new Promise((r) => setTimeout(r, 100));
      expect(await exits(), await fs.readFile(consoleLog, 'utf8').catch(() => '(no console log)')).toBeGreaterThanOrEqual(3);
      expect(await crashing.vmPid(vmCid)).toBe(pid);
      expect(await crashing.hasVm(vmCid)).toBe(true);
    } finally {
      await crashing.deleteVm(vmCid);
    }
  });

  it('finds its VMs and disks again when re-created from the same dataDir', async () => {
    const { cloud } = fx;
    const diskCid = await cloud.createDisk(16, {});
    const { vmCid } = await cloud.createVm(vmRequest('agent-restart', [diskCid]));
    try {
      const again = await LocalCloud.create({
        dataDir: fx.dataDir,
        bridgeName: fx.bridgeName,
        subnet: fx.subnet,
        stemcellCacheDir: TEST_STEMCELL_CACHE,
      });
      expect(await again.hasVm(vmCid)).toBe(true);
      expect(await again.hasDisk(diskCid)).toBe(true);
      expect(await again.getDisks(vmCid)).toEqual([diskCid]);
      await again.deleteVm(vmCid);
      expect(await cloud.hasVm(vmCid)).toBe(false);
    } finally {
      await cloud.deleteVm(vmCid);
      await cloud.deleteDisk(diskCid);
    }
  });

  it('a stemcell cache shared by two clouds unpacks an image once; deleting the stemcell in one leaves it to the other', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bosun-stemcell-cache-test-'));
    try {
      const opened = await openStemcellTarball(makeStemcellTarball(dir, { version: '7.1' }), path.join(dir, 'image'));
      const cache = path.join(dir, 'cache');
      const clouds = await Promise.all(
        ['a', 'b'].map((n) => LocalCloud.create({ dataDir: path.join(dir, n), bridgeName: fx.bridgeName, subnet: fx.subnet, stemcellCacheDir: cache })),
      );
      const [a, b] = clouds as [LocalCloud, LocalCloud];
      const cidA = await a.createStemcell(path.join(dir, 'image'), opened.manifest.cloudProperties);
      const rootA = await a.stemcellRootfs(cidA);
      expect(rootA?.startsWith(cache + '/')).toBe(true);
      // A mark in the unpacked root: the second cloud gets the very same root, not a new unpacking.
      await fs.writeFile(path.join(rootA ?? '', 'unpacked-once'), '');
      const cidB = await b.createStemcell(path.join(dir, 'image'), opened.manifest.cloudProperties);
      expect(cidB).not.toBe(cidA);
      expect(await b.stemcellRootfs(cidB)).toBe(rootA);
      expect(existsSync(path.join(rootA ?? '', 'unpacked-once'))).toBe(true);
      await a.deleteStemcell(cidA);
      expect(await a.stemcellRootfs(cidA)).toBeNull();
      expect(existsSync(path.join(rootA ?? '', 'usr/sbin/runsvdir-start'))).toBe(true);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
