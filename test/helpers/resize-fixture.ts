/**
 * Module-level disk resize tests over the fake cloud: one VM with its fake agent, a 2 GiB disk
 * attached and mounted at its store (recorded in a SQLite store as instance i1's active disk),
 * and the DiskResizeTarget for it. `close()` releases the store, the cloud and the temp dir.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { FakeAgent } from '../../src/cloud/fake/fake-agent.js';
import { FakeCloud } from '../../src/cloud/fake/index.js';
import type { DiskResizeTarget } from '../../src/director/disks/disk-resize.js';
import { Store } from '../../src/store/store.js';

export interface ResizeFixture {
  store: Store;
  cloud: FakeCloud;
  target: DiskResizeTarget;
  agent: FakeAgent;
  oldCid: string;
  close(): Promise<void>;
}

export async function createResizeFixture(): Promise<ResizeFixture> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'bosun-test-resize-'));
  const store = await Store.create({ kind: 'sqlite', path: path.join(dir, 'db.sqlite') });
  const cloud = new FakeCloud({ unresponsiveTimeoutMs: 100 });
  const close = async (): Promise<void> => {
    await store.close();
    cloud.shutdown();
    await rm(dir, { recursive: true, force: true });
  };
  const { vmCid } = await cloud.createVm({
    agentId: 'a1',
    stemcell: 's',
    cloudProperties: {},
    networks: {},
    diskCids: [],
    env: { directorUrl: '', caPem: '', certPem: '', keyPem: '', heartbeatIntervalMs: 60_000 },
  });
  const agent = cloud.agentOfVm(vmCid);
  if (!agent) throw new Error('no agent');
  const oldCid = await cloud.createDisk(2048, {}, vmCid);
  const hint = await cloud.attachDisk(vmCid, oldCid);
  await agent.mountDisk({ diskCid: oldCid, hint });
  await store.disks.create({ cid: oldCid, sizeMiB: 2048, instanceId: 'i1', deployment: 'demo' });
  await store.disks.setHint(oldCid, hint);
  await store.disks.markMounted(oldCid);
  const target: DiskResizeTarget = {
    instanceId: 'i1',
    deployment: 'demo',
    name: 'db/0 (i1)',
    desired: 'started',
    vmCid,
    agent: cloud.agentConnector.connect({ agentId: 'a1', vmCid, ip: null }),
    diskCloudProperties: {},
  };
  return { store, cloud, target, agent, oldCid, close };
}
