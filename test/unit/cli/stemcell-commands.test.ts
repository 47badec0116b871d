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
