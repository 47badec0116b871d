/**
 * The cloud contract through the external CPI protocol: ExternalCloud driving bosun-local-cpi
 * (one process per call, the local cloud behind it). Needs root and `npm run build`.
 */
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExternalCloud } from '../../src/cloud/external/index.js';
import type { AgentSettings } from '../../src/common/contracts/agent-settings.js';
import { createLocalCloudFixture, type LocalCloudFixture } from '../helpers/local-cloud-fixture.js';
import { localCpiOptions } from '../helpers/local-cpi.js';
import { describeCloudContract, vmRequest } from './cloud-contract.js';

const execFileAsync = promisify(execFile);
let fx: LocalCloudFixture;
let cloud: ExternalCloud;

beforeAll(async () => {
  fx = await createLocalCloudFixture({ agentCommand: ['sleep', '100000'] });
  cloud = new ExternalCloud(
    localCpiOptions({ data_dir: fx.dataDir, bridge: fx.bridgeName, subnet: fx.subnet, agent_command: ['sleep', '100000'] }),
  );
});
afterAll(async () => {
  await fx?.cleanup();
});

describeCloudContract('external + bosun-local-cpi', () => cloud);

describe('bosun-local-cpi specifics', () => {
  it('speaks v2 and round-trips the agent settings and the disk hint through JSON', async () => {
    expect(await cloud.info()).toMatchObject({ apiVersion: 2, stemcellFormats: expect.arrayContaining(['general-tar']) });
    const diskCid = await cloud.createDisk(16, {});
    const request = vmRequest('agent-json');
    request.env = { ...request.env, clientCertPem: 'CLIENT', directorClientName: 'director-client', registryHost: '10.0.0.1:5000', extra: { dns: { records: [1, 2] } } };
    const { vmCid, networks } = await cloud.createVm(request);
    try {
      const hint = await cloud.attachDisk(vmCid, diskCid);
      expect(hint.path).toMatch(/^\/dev\/loop\d+$/);
      const settings = JSON.parse(await fs.readFile(`${fx.cloud.vmDir(vmCid)}/settings.json`, 'utf8')) as AgentSettings;
      expect(settings).toMatchObject({
        agentId: 'agent-json',
        vmCid,
        keyPem: 'SECRET-KEY',
        clientCertPem: 'CLIENT',
        directorClientName: 'director-client',
        registryHost: '10.0.0.1:5000',
        extra: { dns: { records: [1, 2] } },
        network: { ip: networks['default']?.ip },
        disks: { [diskCid]: hint },
      });
      await cloud.detachDisk(vmCid, diskCid);
    } finally {
      await cloud.deleteVm(vmCid);
      await cloud.deleteDisk(diskCid);
    }
  });

  it('keeps addresses distinct when separate CPI processes create VMs at the same time (the lock file)', async () => {
    const made = await Promise.all(Array.from({ length: 4 }, (_, i) => cloud.createVm(vmRequest(`agent-par-${i}`))));
    try {
      const ips = made.map((m) => m.networks['default']?.ip);
      expect(new Set(ips).size).toBe(4);
    } finally {
      await Promise.all(made.map((m) => cloud.deleteVm(m.vmCid)));
    }
  });

  it('answers a method it does not know as older CPIs do (NotImplemented here)', async () => {
    const err = await cloud.snapshotDisk('disk-x', {}).catch((e: unknown) => e);
    expect((err as Error).constructor.name).toBe('NotImplementedError');
  });
});

describe('bosun-local-cpi with disk_kind: directory', () => {
  const dirCloud = (): ExternalCloud => {
    const base = localCpiOptions({ data_dir: fx.dataDir, bridge: fx.bridgeName, subnet: fx.subnet, agent_command: ['sleep', '100000'] });
    return new ExternalCloud({ ...base, properties: { ...base.properties, disk_kind: 'directory' } });
  };

  it('hands out a host directory: attached into the VM, refused to detach while the VM mounts it, kept across detach and VM deletion, never resized', async () => {
    const c = dirCloud();
    const diskCid = await c.createDisk(64, {});
    const detached = `${fx.dataDir}/disks/${diskCid}.dir`;
    expect((await fs.stat(detached)).isDirectory()).toBe(true);
    const { vmCid } = await c.createVm(vmRequest('agent-dir'));
    try {
      const hint = await c.attachDisk(vmCid, diskCid);
      // A host-binaries VM sees the host's files: the hint is the attached directory's host path.
      expect(hint.path).toBe(`${fx.cloud.vmDir(vmCid)}/attached-disks/${diskCid}`);
      expect(await c.getDisks(vmCid)).toEqual([diskCid]);
      await fs.writeFile(`${hint.path}/data.txt`, 'kept');
      // The agent's bind mount, inside the VM's mount namespace: detaching must wait for its unmount.
      const pid1 = String(await fx.cloud.vmPid(vmCid));
      const store = `${fx.cloud.vmDir(vmCid)}/store`;
      await execFileAsync('nsenter', ['-t', pid1, '-m', '--', 'mount', '--bind', hint.path, store]);
      await expect(c.detachDisk(vmCid, diskCid)).rejects.toThrow(/still has it mounted at .*store/);
      await execFileAsync('nsenter', ['-t', pid1, '-m', '--', 'umount', store]);
      await c.detachDisk(vmCid, diskCid);
      expect(await fs.readFile(`${detached}/data.txt`, 'utf8')).toBe('kept');
      expect(await c.getDisks(vmCid)).toEqual([]);
      await expect(c.resizeDisk(diskCid, 128)).rejects.toThrow(/not supported/);
      await c.attachDisk(vmCid, diskCid);
      await c.deleteVm(vmCid);
      // The VM's directory is gone; the disk is back where detached disks live, with its data.
      expect(await fs.readFile(`${detached}/data.txt`, 'utf8')).toBe('kept');
      expect(await c.hasDisk(diskCid)).toBe(true);
    } finally {
      await c.deleteVm(vmCid);
      await c.deleteDisk(diskCid);
    }
    expect(await c.hasDisk(diskCid)).toBe(false);
    await expect(fs.stat(detached)).rejects.toThrow();
  });
});
