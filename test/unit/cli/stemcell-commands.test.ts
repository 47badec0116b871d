import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCli, type CliHarness } from './harness.js';

describe('bosun upload-stemcell / stemcells / delete-stemcell', () => {
  let h: CliHarness;
  beforeAll(async () => {
    h = await startCli();
    h.srv.fake.nextTask = { final: 'done', events: [] };
    h.srv.fake.stemcells.push({
      name: 'bosun-debian-12',
      version: '0.1.0-1',
      operatingSystem: 'debian-12',
      apiVersion: 3,
      formats: ['general-tar', 'warden-tar'],
      cid: 'sc-1',
      sha1: 'a'.repeat(40),
      uploadedAt: '2026-12-01T00:00:00.000Z',
      vms: ['vm-1', 'vm-2'],
    });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('lists stemcells with the number of VMs that boot each', async () => {
    const res = await h.run('stemcells');
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/bosun-debian-12.*0\.1\.0-1.*debian-12.*general-tar, warden-tar.*sc-1.*2/);
    const json = JSON.parse((await h.run('--json', 'stemcells')).stdout) as Array<{ vms: string[] }>;
    expect(json[0]?.vms).toEqual(['vm-1', 'vm-2']);
  });

  it('uploads a file and follows the task; names the build command when the file is missing', async () => {
    const file = join(h.dir, 'bosun-debian-12-0.1.0-1.tgz');
    await writeFile(file, Buffer.alloc(1000, 1));
    const res = await h.run('upload-stemcell', file);
    expect(res.code).toBe(0);
    expect(h.srv.fake.calls.some((c) => c.method === 'uploadStemcell')).toBe(true);
    const missing = await h.run('upload-stemcell', join(h.dir, 'nope.tgz'));
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('bosun build-stemcell');
  });

  it('deletes NAME/VERSION and refuses anything else', async () => {
    expect((await h.run('-n', 'delete-stemcell', 'bosun-debian-12/0.1.0-1')).code).toBe(0);
    expect(h.srv.fake.calls).toContainEqual({ method: 'deleteStemcell', args: ['bosun-debian-12', '0.1.0-1', 'admin'] });
    const bad = await h.run('-n', 'delete-stemcell', 'bosun-debian-12');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('NAME/VERSION');
  });
});

describe('bosun validate names the stemcell', () => {
  let h: CliHarness;
  beforeAll(async () => {
    h = await startCli();
    h.srv.fake.stemcells.push(
      { name: 'bosun-debian-12', version: '0.1.0-2', operatingSystem: 'debian-12', apiVersion: 3, formats: ['general-tar'], cid: 'sc-2', sha1: 'a'.repeat(40), uploadedAt: '2026-12-01T00:00:00.000Z', vms: [] },
      { name: 'bosun-debian-12', version: '0.1.0-10', operatingSystem: 'debian-12', apiVersion: 3, formats: ['general-tar'], cid: 'sc-10', sha1: 'a'.repeat(40), uploadedAt: '2026-12-01T00:00:00.000Z', vms: [] },
    );
  });
  afterAll(async () => {
    await h?.close();
  });

  const group = 'instance_groups:\n  - name: a\n    instances: 1\n    containers: [{name: c1, image: busybox}]\n';

  it('without stemcells: says the newest debian-12 one is used, and which one that is on the director', async () => {
    const file = join(h.dir, 'plain.yml');
    await writeFile(file, `name: t\n${group}`);
    const res = await h.run('validate', file);
    expect(res.code).toBe(0);
    const lines = res.stdout.split('\n').filter((l) => l.startsWith('Stemcell:'));
    expect(lines).toEqual(['Stemcell:    none named in the manifest: VMs boot the newest uploaded debian-12 stemcell (on the director: bosun-debian-12/0.1.0-10)']);
    const json = JSON.parse((await h.run('--json', 'validate', file)).stdout) as { stemcell: unknown };
    expect(json.stemcell).toEqual({
      named: false,
      note: 'none named in the manifest: VMs boot the newest uploaded debian-12 stemcell (on the director: bosun-debian-12/0.1.0-10)',
      onDirector: [{ alias: null, stemcell: 'bosun-debian-12/0.1.0-10' }],
    });
  });

  it('with stemcells: each alias, and a pinned version the director does not have', async () => {
    const file = join(h.dir, 'pinned.yml');
    await writeFile(file, `name: t\nstemcells: [{alias: default, name: bosun-debian-12, version: 0.1.0-9}]\n${group}`);
    const res = await h.run('validate', file);
    expect(res.stdout).toContain('Stemcell:    default: bosun-debian-12/0.1.0-9 (none uploaded on the director: `bosun upload-stemcell stemcells/bosun-debian-12-<version>.tgz`)');
  });
});
