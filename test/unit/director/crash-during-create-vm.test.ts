import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Cloud, CreateVmRequest, CreateVmResult } from '../../../src/cloud/cloud.js';
import { FakeCloud } from '../../../src/cloud/fake/index.js';
import { Director } from '../../../src/director/director.js';
import { addTestStemcell, manifestText, testManifests, type TestManifest } from '../../helpers/director-fixtures.js';

const m: TestManifest = { name: 'demo', groups: [{ name: 'g', instances: 1, containers: [{ name: 'c1', image: 'busybox' }] }] };
const credentials = (agentId: string) => ({ caPem: 'ca', certPem: `c-${agentId}`, keyPem: `k-${agentId}` });

/**
 * A director killed while createVm runs never learns the new VM's cid. When it owns its cloud alone
 * (deleteUnknownVmsAfterCrash, set by the daemon for the local cloud) it deletes that VM on restart.
 */
describe('a crash during createVm', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  async function crashInCreateVm(cloud: FakeCloud, dir: string, deleteUnknownVmsAfterCrash: boolean) {
    const config = {
      dataDir: dir,
      databasePath: join(dir, 'director.sqlite'),
      directorUrl: 'https://127.0.0.1:25555',
      ca: { certPem: 'ca', keyPem: 'k' },
      agentWaitTimeoutMs: 500,
      agentPingIntervalMs: 10,
      agentCallTimeoutMs: 200,
      watchPollIntervalMs: 10,
      deleteUnknownVmsAfterCrash,
    };
    // The VM gets made, but the call never returns to the director (it "dies" meanwhile).
    const hanging: Cloud = Object.create(cloud) as Cloud;
    let created = false;
    hanging.createVm = async (request: CreateVmRequest): Promise<CreateVmResult> => {
      await cloud.createVm(request);
      created = true;
      return new Promise<CreateVmResult>(() => undefined);
    };
    const first = await Director.create({ config, cloud: hanging, agentConnector: cloud.agentConnector, manifests: testManifests, agentCredentials: credentials });
    await addTestStemcell(first);
    const task = await first.deploy({ manifest: manifestText(m) }, 'admin');
    for (let i = 0; i < 200 && !created; i++) await new Promise((r) => setTimeout(r, 10));
    expect(created).toBe(true);
    const second = await Director.create({ config, cloud, agentConnector: cloud.agentConnector, manifests: testManifests, agentCredentials: credentials });
    return { first, second, task };
  }

  it('the restarted director deletes the unrecorded VM, and a re-run leaves exactly one VM', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bosun-director-'));
    dirs.push(dir);
    const cloud = new FakeCloud({ unresponsiveTimeoutMs: 100, heartbeatIntervalMs: 60_000 });
    const { first, second, task } = await crashInCreateVm(cloud, dir, true);
    try {
      expect((await second.getTask(task.id)).state).toBe('error');
      expect(cloud.vmCount).toBe(0);
      const done = await second.tasks.wait((await second.deploy({ manifest: manifestText(m) }, 'admin')).id);
      expect(done.error).toBeNull();
      expect(cloud.vmCount).toBe(1);
    } finally {
      await second.close();
      await first.store.close();
      cloud.shutdown();
    }
  });

  it('leaves unknown VMs alone when the director does not own the cloud alone (the default)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bosun-director-'));
    dirs.push(dir);
    const cloud = new FakeCloud({ unresponsiveTimeoutMs: 100, heartbeatIntervalMs: 60_000 });
    const { first, second } = await crashInCreateVm(cloud, dir, false);
    try {
      expect(cloud.vmCount).toBe(1);
    } finally {
      await second.close();
      await first.store.close();
      cloud.shutdown();
    }
  });
});
