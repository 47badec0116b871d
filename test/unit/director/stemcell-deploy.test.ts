/**
 * The manifest's stemcell on the director: resolved before any change, recorded per instance,
 * a change rolled as VM replacements (disks kept, canaries first), and replacement VMs of
 * recreate and the resurrector on the stemcell the instance is deployed with.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { CreateVmRequest } from '../../../src/cloud/cloud.js';
import { resolveDirectorConfig } from '../../../src/director/config.js';
import { loadDaemonConfig } from '../../../src/director/daemon/daemon-config.js';
import { addTestStemcell, createTestDirector, deployAndWait, manifestText, TEST_STEMCELL_VERSION, type TestDirector, type TestManifest } from '../../helpers/director-fixtures.js';

let t: TestDirector | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

const demo = (version?: string, instances = 3): TestManifest => ({
  name: 'demo',
  groups: [
    {
      name: 'db',
      instances,
      disk: 1024,
      canaries: 1,
      maxInFlight: 2,
      ...(version === undefined ? {} : { stemcell: { os: 'debian-12', version } }),
      containers: [{ name: 'redis', image: 'redis:7' }],
    },
  ],
});

const createdStemcells = (d: TestDirector, from = 0): string[] =>
  (d.cloud.calls.slice(from).filter((c) => c.method === 'createVm') as unknown as Array<{ args: [CreateVmRequest] }>).map((c) => c.args[0].stemcell);

describe('deploying onto the manifest\'s stemcell', () => {
  it('fails before any change when the stemcell is not uploaded, naming it and the commands that fix it', async () => {
    t = await createTestDirector({ stemcell: false });
    const err = await t.director.deploy({ manifest: manifestText(demo()) }, 'admin').then(
      () => null,
      (e: unknown) => e as Error,
    );
    expect(err?.message).toBe(
      'Deployment "demo" cannot be deployed; nothing was changed. Instance group "db": No stemcell of OS debian-12 is uploaded (the director has none); ' +
        'upload it with `bosun upload-stemcell stemcells/bosun-debian-12-<version>.tgz` (build it with `bash scripts/build-stemcell.sh`), ' +
        "or name an uploaded one in the manifest's `stemcells:` (see `bosun stemcells`).",
    );
    expect(await t.director.listTasks({ deployment: 'demo' })).toEqual([]);
    expect(t.cloud.calls.filter((c) => !['info', 'hasVm'].includes(c.method))).toEqual([]);
    expect(await t.director.store.deployments.get('demo')).toBeUndefined();

    // A pinned version that is not there: the file to upload carries that version.
    await addTestStemcell(t.director);
    await expect(t.director.diff({ manifest: manifestText(demo('0.1.0-B')) })).rejects.toThrow(
      /No stemcell of OS debian-12 with version 0\.1\.0-B is uploaded \(uploaded: bosun-debian-12\/0\.1\.0-test\); upload it with `bosun upload-stemcell stemcells\/bosun-debian-12-0\.1\.0-B\.tgz`/,
    );
  });

  it('records the stemcell each VM booted; an unchanged redeploy touches nothing', async () => {
    t = await createTestDirector();
    const done = await deployAndWait(t.director, demo());
    expect(done.error).toBeNull();
    expect(createdStemcells(t)).toEqual(Array(3).fill(`sc-test-bosun-debian-12-${TEST_STEMCELL_VERSION}`));
    const instances = await t.director.store.instances.listByDeployment('demo');
    expect(instances.map((i) => i.stemcell)).toEqual(Array(3).fill({ name: 'bosun-debian-12', version: TEST_STEMCELL_VERSION }));
    expect((await t.director.diff({ manifest: manifestText(demo()) })).changes).toEqual([]);
    const calls = t.cloud.calls.length;
    expect((await deployAndWait(t.director, demo())).error).toBeNull();
    expect(t.cloud.calls.slice(calls).filter((c) => c.method !== 'hasVm')).toEqual([]);
  });

  it('a new stemcell version: the dry run shows it, the deploy recreates every VM on it with canaries first, keeping the disks', async () => {
    t = await createTestDirector({ stemcell: false });
    const a = await addTestStemcell(t.director, { version: '0.1.0-A' });
    expect((await deployAndWait(t.director, demo('0.1.0-A'))).error).toBeNull();
    const disksBefore = (await t.director.listInstances('demo')).map((i) => i.diskCids);
    const b = await addTestStemcell(t.director, { version: '0.1.0-B' });

    const diff = await t.director.diff({ manifest: manifestText(demo('0.1.0-B')) });
    const stemcellChanges = diff.changes.filter((c) => c.kind === 'stemcell');
    expect(stemcellChanges.map((c) => c.subject)).toEqual(['db/0', 'db/1', 'db/2']);
    expect(diff.text).toContain('~ db/0: stemcell: bosun-debian-12/0.1.0-A -> bosun-debian-12/0.1.0-B (the VM is recreated, its persistent disk kept)');

    const from = t.cloud.calls.length;
    const done = await deployAndWait(t.director, demo('0.1.0-B'));
    expect(done.error).toBeNull();
    expect(createdStemcells(t, from)).toEqual([b.cid, b.cid, b.cid]);
    expect(t.cloud.calls.slice(from).filter((c) => c.method === 'createDisk')).toEqual([]);
    expect((await t.director.listInstances('demo')).map((i) => i.diskCids)).toEqual(disksBefore);
    expect((await t.director.store.instances.listByDeployment('demo')).every((i) => i.stemcell?.version === '0.1.0-B')).toBe(true);
    const steps = (await t.director.taskEvents(done.id)).filter((e) => e.stage === 'Updating instance' && e.state === 'started').map((e) => e.step);
    expect(steps).toHaveLength(3);
    expect(steps[0]).toMatch(/^db\/\d \(.*\) \(canary\)$/);
    expect(steps.slice(1).every((s) => !s.includes('canary'))).toBe(true);
    // Nothing boots A any more: it may be deleted.
    expect((await t.director.listStemcells()).find((s) => s.cid === a.cid)?.vms).toEqual([]);
  });

  it('version latest moves to a newly uploaded stemcell on the next deploy', async () => {
    t = await createTestDirector({ stemcell: false });
    await addTestStemcell(t.director, { version: '0.1.0-A' });
    expect((await deployAndWait(t.director, demo(undefined, 1))).error).toBeNull();
    await addTestStemcell(t.director, { version: '0.1.0-B' });
    const diff = await t.director.diff({ manifest: manifestText(demo(undefined, 1)) });
    expect(diff.text).toBe('deployment demo:\n~ db/0: stemcell: bosun-debian-12/0.1.0-A -> bosun-debian-12/0.1.0-B (the VM is recreated, its persistent disk kept)');
  });

  it('recreate boots the stemcell the instance is deployed with, not the newest uploaded', async () => {
    t = await createTestDirector({ stemcell: false });
    const a = await addTestStemcell(t.director, { version: '0.1.0-A' });
    expect((await deployAndWait(t.director, demo(undefined, 1))).error).toBeNull();
    await addTestStemcell(t.director, { version: '0.1.0-B' });
    const from = t.cloud.calls.length;
    const task = await t.director.runJob('demo', { action: 'recreate' }, 'admin');
    expect((await t.director.tasks.wait(task.id)).error).toBeNull();
    expect(createdStemcells(t, from)).toEqual([a.cid]);
  });
});

describe('the director config key stemcell', () => {
  it('is refused, saying to name the stemcell in the manifest', () => {
    expect(() =>
      resolveDirectorConfig({ dataDir: '/x', directorUrl: 'https://127.0.0.1:25555', stemcell: 'latest' } as Parameters<typeof resolveDirectorConfig>[0]),
    ).toThrow(/the key `stemcell` is no longer supported; remove it and name the stemcell in the deployment manifest instead \(`stemcells: \[/);
  });

  it('is refused in the director config file too', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bosun-config-'));
    try {
      const file = join(dir, 'director.yml');
      await writeFile(file, 'stemcell: latest\n');
      await expect(loadDaemonConfig({ dataDir: dir, configFile: file })).rejects.toThrow(
        new RegExp(`^The director config ${file} is invalid: the key \`stemcell\` is no longer supported; remove it and name the stemcell in the deployment manifest`),
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
