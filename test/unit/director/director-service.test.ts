import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Cloud } from '../../../src/cloud/cloud.js';
import { FakeCloud } from '../../../src/cloud/fake/index.js';
import { Director } from '../../../src/director/director.js';
import type { TestDirector, TestManifest } from '../../helpers/director-fixtures.js';
import { addTestStemcell, createTestDirector, deployAndWait, manifestText, testManifests } from '../../helpers/director-fixtures.js';

const m: TestManifest = { name: 'demo', groups: [{ name: 'db', instances: 1, disk: 256, containers: [{ name: 'redis', image: 'redis:7' }] }] };

describe('director service', () => {
  let t: TestDirector | undefined;
  const dirs: string[] = [];
  afterEach(async () => {
    await t?.close();
    t = undefined;
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('records heartbeats on the instance and notes an unknown agent once', async () => {
    t = await createTestDirector();
    await deployAndWait(t.director, m);
    const [i] = await t.director.listInstances('demo');
    const agent = t.cloud.agentOf(i?.agentId ?? '');
    await t.director.recordHeartbeat(agent!.heartbeat());
    const [after] = await t.director.listInstances('demo');
    expect(after?.lastHeartbeatAt).not.toBeNull();
    expect(after?.state).toBe('running');

    const stranger = { ...agent!.heartbeat(), agentId: 'agent-stranger' };
    await t.director.recordHeartbeat(stranger);
    await t.director.recordHeartbeat(stranger);
    const unknown = (await t.director.listEvents({})).filter((e) => e.action === 'unknown_agent');
    expect(unknown).toHaveLength(1);
    expect(unknown[0]?.objectName).toBe('agent-stranger');

    await t.director.recordAgentAlert({ agentId: i?.agentId ?? '', severity: 2, category: 'container_flapping', title: 'redis flaps', summary: 'x', container: 'redis', timestamp: new Date().toISOString() });
    const alerts = await t.director.listAlerts({ deployment: 'demo' });
    expect(alerts.map((a) => [a.title, a.instance])).toEqual([['redis flaps', 'db/0']]);
  });

  it('audits task start/end, keeps resurrection flags, and reports info', async () => {
    t = await createTestDirector();
    const task = await deployAndWait(t.director, m);
    const actions = (await t.director.listEvents({ deployment: 'demo' })).map((e) => e.action);
    expect(actions).toEqual(['task_done', 'task_start']);
    expect(task.user).toBe('admin');
    expect((await t.director.getDeployment('demo')).resurrection).toBe(true);
    await t.director.setResurrection(false, undefined, 'admin');
    expect((await t.director.getDeployment('demo')).resurrection).toBe(false);
    await t.director.setResurrection(true, 'demo', 'admin');
    expect((await t.director.getDeployment('demo')).resurrection).toBe(true);
    const info = await t.director.info();
    expect(info.cloud).toBe('fake');
    expect(info.uuid).toMatch(/^[0-9a-f-]{36}$/);
    expect(await t.director.listImages()).toEqual([]);
    await expect(t.director.uploadImage('/tmp/x.tar', undefined, 'admin')).rejects.toThrow(/without an image registry/);
  });

  it('cloud-check runs as a task whose result is a CckResult (health part, src/director/cloud-check/)', async () => {
    t = await createTestDirector();
    await deployAndWait(t.director, m);
    const task = await t.director.cloudCheck('demo', {}, 'admin');
    const done = await t.director.tasks.wait(task.id);
    expect(done.error).toBeNull();
    expect(JSON.parse(done.result ?? 'null')).toEqual({ problems: [] });
  });

  it('after a crash the interrupted task is marked failed, its lock released, and a re-run converges', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bosun-director-'));
    dirs.push(dir);
    const databasePath = join(dir, 'director.sqlite');
    const cloud = new FakeCloud({ unresponsiveTimeoutMs: 100, heartbeatIntervalMs: 60_000 });
    // The first director "crashes" in createDisk: the call never returns.
    const hanging: Cloud = Object.create(cloud) as Cloud;
    let crashedInCreateDisk = false;
    hanging.createDisk = () => {
      crashedInCreateDisk = true;
      return new Promise<string>(() => undefined);
    };
    const config = {
      dataDir: dir,
      databasePath,
      directorUrl: 'https://127.0.0.1:25555',
      ca: { certPem: 'ca', keyPem: 'k' },
      agentWaitTimeoutMs: 500,
      agentPingIntervalMs: 10,
      agentCallTimeoutMs: 200,
      watchPollIntervalMs: 10,
    };
    const credentials = (agentId: string) => ({ caPem: 'ca', certPem: `c-${agentId}`, keyPem: `k-${agentId}` });
    const first = await Director.create({ config, cloud: hanging, agentConnector: cloud.agentConnector, manifests: testManifests, agentCredentials: credentials });
    await addTestStemcell(first);
    const crashed = await first.deploy({ manifest: manifestText(m) }, 'admin');
    for (let i = 0; i < 200 && !crashedInCreateDisk; i++) await new Promise((r) => setTimeout(r, 10));
    expect(crashedInCreateDisk).toBe(true);
    expect(cloud.vmCount).toBe(1);

    const second = await Director.create({ config, cloud, agentConnector: cloud.agentConnector, manifests: testManifests, agentCredentials: credentials });
    try {
      const failed = await second.getTask(crashed.id);
      expect(failed.state).toBe('error');
      expect(failed.error).toMatch(/director restarted while the task ran; run the command again/);
      expect(await second.listLocks()).toEqual([]);
      const rerun = await second.deploy({ manifest: manifestText(m) }, 'admin');
      const done = await second.tasks.wait(rerun.id);
      expect(done.error).toBeNull();
      // The VM created before the crash is reused, not leaked.
      expect(cloud.vmCount).toBe(1);
      expect(cloud.callsOf('createVm')).toHaveLength(1);
      const [i] = await second.listInstances('demo', { ps: true });
      expect(i?.state).toBe('running');
      expect(i?.diskCids).toHaveLength(1);
    } finally {
      await second.close();
      await first.store.close();
      cloud.shutdown();
    }
  });

  it('uploads images through the registry port as a task and lists them', async () => {
    const cloud = new FakeCloud({ unresponsiveTimeoutMs: 100, heartbeatIntervalMs: 60_000 });
    const pushed: string[] = [];
    const director = await Director.create({
      config: { dataDir: '/nonexistent', databasePath: ':memory:', directorUrl: 'https://127.0.0.1:25555', ca: { certPem: 'c', keyPem: 'k' } },
      cloud,
      agentConnector: cloud.agentConnector,
      manifests: testManifests,
      registry: {
        host: '10.244.0.1:5000',
        listImages: async () => pushed.map((p) => ({ repository: p.split(':')[0] ?? p, tags: [p.split(':')[1] ?? 'latest'] })),
        uploadImage: async (_tar, name, progress) => {
          progress('pushing layers');
          pushed.push(name ?? 'x:latest');
          return [{ repository: 'acme/web', tags: ['1'] }];
        },
      },
    });
    try {
      expect((await director.info()).registry).toBe('10.244.0.1:5000');
      const task = await director.uploadImage('/tmp/web.tar', 'acme/web:1', 'admin');
      const done = await director.tasks.wait(task.id);
      expect(done.error).toBeNull();
      expect(JSON.parse(done.result ?? '[]')).toEqual([{ repository: 'acme/web', tags: ['1'] }]);
      expect(await director.listImages()).toEqual([{ repository: 'acme/web', tags: ['1'] }]);
      expect((await director.taskEvents(task.id)).map((e) => e.state)).toContain('in_progress');
    } finally {
      await director.close();
      cloud.shutdown();
    }
  });

  it('removing a group deletes its VMs and orphans its disks', async () => {
    t = await createTestDirector();
    const two: TestManifest = { name: 'demo', groups: [...m.groups, { name: 'extra', instances: 1, disk: 64, containers: [{ name: 'x', image: 'x' }] }] };
    await deployAndWait(t.director, two);
    const extra = (await t.director.listInstances('demo')).find((i) => i.group === 'extra');
    const task = await deployAndWait(t.director, m);
    expect(task.error).toBeNull();
    expect((await t.director.listInstances('demo')).map((i) => i.group)).toEqual(['db']);
    expect(await t.cloud.hasVm(extra?.vmCid ?? '')).toBe(false);
    expect((await t.director.listDisks({ orphaned: true })).map((d) => d.diskCid)).toEqual(extra?.diskCids);
    expect(await t.director.getManifest('demo')).not.toContain('extra');
  });

  it('a heartbeat that arrives while its VM is being created is not taken for an unknown agent', async () => {
    t = await createTestDirector();
    const { director, cloud } = t;
    const original = cloud.createVm.bind(cloud);
    cloud.createVm = async (req) => {
      const r = await original(req);
      await director.recordHeartbeat(cloud.agentOf(req.agentId)!.heartbeat());
      return r;
    };
    expect((await deployAndWait(director, m)).error).toBeNull();
    expect((await director.listEvents({})).filter((e) => e.action === 'unknown_agent')).toEqual([]);
  });
});
