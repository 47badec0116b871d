import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCli, type CliHarness } from './harness.js';
import { runValidate } from './run-validate.js';

describe('bosun update-cloud-config / cloud-config', () => {
  let h: CliHarness;
  beforeAll(async () => {
    h = await startCli();
  });
  afterAll(async () => {
    await h?.close();
  });

  it('says when there is none, then shows the diff, asks (-n skips) and prints the stored version', async () => {
    expect((await h.run('cloud-config')).stdout).toContain('The director has no cloud config');
    const file = join(h.dir, 'cc.yml');
    await writeFile(file, 'azs: [{name: z1}]\n');
    const refused = await h.run('update-cloud-config', file);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toContain('+ azs/z1');
    expect(refused.stderr).toContain('Pass -n');
    expect(h.srv.fake.calls.some((c) => c.method === 'updateCloudConfig')).toBe(false);

    const res = await h.run('-n', 'update-cloud-config', file);
    expect(res.code).toBe(0);
    expect(res.stdout).toContain('Cloud config version 1 is current');
    expect((await h.run('cloud-config')).stdout).toContain('azs: [{name: z1}]');
    const json = JSON.parse((await h.run('--json', 'cloud-config')).stdout) as { version: number; text: string };
    expect(json).toMatchObject({ version: 1, text: 'azs: [{name: z1}]\n' });
    // Unchanged: nothing to ask.
    expect((await h.run('update-cloud-config', file)).stdout).toContain('No changes.');
  });

  it('refuses an invalid file with its problems before asking the director', async () => {
    const file = join(h.dir, 'bad.yml');
    await writeFile(file, 'azs: [{name: z1}]\nvm_tpyes: []\n');
    const calls = h.srv.fake.calls.length;
    const res = await h.run('-n', 'update-cloud-config', file);
    expect(res.code).not.toBe(0);
    expect(res.stderr).toContain('The cloud config');
    expect(res.stderr).toMatch(/vm_tpyes \(line 2, col 1\): unknown key "vm_tpyes"; did you mean "vm_types"\?/);
    expect(h.srv.fake.calls.length).toBe(calls);
  });
});

describe('bosun instances shows the AZ', () => {
  let h: CliHarness;
  beforeAll(async () => {
    h = await startCli();
  });
  afterAll(async () => {
    await h?.close();
  });

  it('adds the AZ column only when instances are placed in AZs', async () => {
    expect((await h.run('-d', 'demo', 'instances')).stdout).not.toContain('AZ');
    h.srv.fake.instanceAzs = ['z1', 'z2'];
    const res = await h.run('-d', 'demo', 'instances');
    expect(res.stdout).toMatch(/AZ/);
    expect(res.stdout).toMatch(/docker-vm-1\/0 .* z1 .* 10\.244\.0\.10/);
    expect(res.stdout).toMatch(/docker-vm-1\/1 .* z2 .* 10\.244\.0\.11/);
  });
});

describe('bosun validate checks the names against the cloud config', () => {
  let h: CliHarness;
  beforeAll(async () => {
    h = await startCli();
  });
  afterAll(async () => {
    await h?.close();
  });
  const manifest = (vmType: string): string =>
    `name: t\ninstance_groups:\n- name: db\n  instances: 2\n  azs: [z1]\n  vm_type: ${vmType}\n  networks: [{name: default}]\n  containers: [{name: redis, image: "redis:7"}]\n`;

  it('reports a name the director cloud config lacks, and says when names were checked', async () => {
    h.srv.fake.cloudConfig = { text: 'azs: [{name: z1}]\nvm_types: [{name: small}]\nnetworks: [{name: default, type: dynamic}]\n', version: 3, createdAt: null, user: 'admin' };
    const good = join(h.dir, 'good.yml');
    await writeFile(good, manifest('small'));
    const ok = await h.run('validate', good);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain("Cloud config: names checked against the director's cloud config (version 3)");
    const bad = join(h.dir, 'bad.yml');
    await writeFile(bad, manifest('large'));
    const res = await h.run('validate', bad);
    expect(res.code).not.toBe(0);
    expect(res.stderr).toContain('instance group "db": vm_type "large" is not in the cloud config (vm_types: "small")');
  });

  it('says the names are not checked when no director answers', async () => {
    const file = join(h.dir, 'any.yml');
    await writeFile(file, manifest('large'));
    const res = await runValidate('validate', file);
    expect(res.code).toBe(0);
    expect(res.stdout).toContain('Cloud config: not checked (no director answers');
  });
});
