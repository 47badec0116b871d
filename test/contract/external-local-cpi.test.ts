/**
 * The cloud contract through the external CPI protocol: ExternalCloud driving bosun-local-cpi
 * (one process per call, the local cloud behind it). Needs root and `npm run build`.
 */
import { promises as fs } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExternalCloud } from '../../src/cloud/external/index.js';
import type { AgentSettings } from '../../src/common/contracts/agent-settings.js';
import { createLocalCloudFixture, type LocalCloudFixture } from '../helpers/local-cloud-fixture.js';
import { localCpiOptions } from '../helpers/local-cpi.js';
import { describeCloudContract, vmRequest } from './cloud-contract.js';

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
