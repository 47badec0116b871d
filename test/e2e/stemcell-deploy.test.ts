/**
 * The demo on stemcell VMs, the stemcell named in the manifest (docs/stemcells.md): the director
 * fixture uploads the built stemcell; a deploy of a stemcell that is not uploaded changes nothing
 * and says how to fix it; examples/demo.yml (two instances) deploys on the uploaded version;
 * recreate keeps the data and the deployed stemcell even after a newer upload; the manifest's
 * version change shows in the dry run and rolls the VMs with a canary first, keeping the data;
 * delete-stemcell is refused while in use.
 * Needs root, `npm run build` and a built stemcell (scripts/build-stemcell.sh).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import type { InstanceInfo, StemcellInfo, TaskEvent, TaskInfo } from '../../src/common/contracts/api.js';
import { builtStemcellFile } from '../helpers/built-stemcell.js';
import { startDirectorFixture, type DirectorFixture } from '../helpers/director-fixture.js';
import { redisCommand } from '../helpers/redis-resp.js';

const NAME = 'e2e-stemcell';

/** The same stemcell with another version in stemcell.MF (the image and its sha1 unchanged). */
function restamp(file: string, dir: string, version: string): string {
  const work = join(dir, `restamp-${version}`);
  mkdirSync(work, { recursive: true });
  execFileSync('tar', ['-xzf', file, '-C', work]);
  const mf = readFileSync(join(work, 'stemcell.MF'), 'utf8').replace(/^version: .*$/m, `version: ${version}`);
  writeFileSync(join(work, 'stemcell.MF'), mf);
  const out = join(dir, `bosun-debian-12-${version}.tgz`);
  execFileSync('tar', ['-czf', out, '-C', work, 'stemcell.MF', 'packages.txt', 'image']);
  return out;
}

describe('the demo on stemcell VMs, the stemcell named in the manifest', () => {
  let d: DirectorFixture;
  let first: StemcellInfo;
  let demo: { name: string; stemcells?: unknown; instance_groups: Array<{ instances: number; stemcell?: string; containers: Array<{ name: string; stop_timeout?: number }> }> };
  const ok = (r: { code: number; stdout: string; stderr: string }) => expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
  const instances = () => d.json<InstanceInfo[]>('-d', NAME, 'instances');
  const stemcells = () => d.json<StemcellInfo[]>('stemcells');
  /** examples/demo.yml with two instances, booting the stemcell version given. */
  const manifestFor = async (version: string): Promise<string> => {
    const m = structuredClone(demo);
    m.stemcells = [{ alias: 'default', os: 'debian-12', version }];
    for (const g of m.instance_groups) g.stemcell = 'default';
    const file = join(d.fx.dataDir, `demo-${version}.yml`);
    await writeFile(file, stringify(m));
    return file;
  };
  const putEverywhere = async (key: string): Promise<void> => {
    for (const i of await instances()) expect(await redisCommand(i.ip as string, 6379, ['SET', key, `kept-${i.index}`], 5000)).toBe('OK');
  };
  const expectEverywhere = async (key: string): Promise<void> => {
    for (const i of await instances()) expect(await redisCommand(i.ip as string, 6379, ['GET', key], 5000)).toBe(`kept-${i.index}`);
  };

  beforeAll(async () => {
    d = await startDirectorFixture({ images: ['busybox', 'redis'] });
    demo = parse(await readFile(new URL('../../examples/demo.yml', import.meta.url), 'utf8')) as typeof demo;
    demo.name = NAME;
    for (const g of demo.instance_groups) {
      g.instances = 2;
      for (const c of g.containers) if (c.name !== 'redis') c.stop_timeout = 1;
    }
    const list = await stemcells();
    if (list[0] === undefined) throw new Error('the director fixture uploaded no stemcell');
    first = list[0];
  }, 300_000);
  afterAll(async () => {
    await d?.cleanup();
  }, 180_000);

  it('has the built stemcell uploaded once (a second upload is a no-op)', async () => {
    ok(await d.cli('upload-stemcell', builtStemcellFile()));
    const list = await stemcells();
    expect(list).toHaveLength(1);
    expect(list[0]?.operatingSystem).toBe('debian-12');
  }, 300_000);

  it('a manifest naming a stemcell that is not uploaded: nothing changes, and the error says how to fix it', async () => {
    const r = await d.cli('-d', NAME, 'deploy', await manifestFor('0.0.0-missing'), '-n');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('No stemcell of OS debian-12 with version 0.0.0-missing is uploaded');
    expect(r.stderr).toContain('`bosun upload-stemcell stemcells/bosun-debian-12-0.0.0-missing.tgz` (build it with `bash scripts/build-stemcell.sh`)');
    expect((await d.json<Array<{ name: string }>>('deployments')).map((x) => x.name)).not.toContain(NAME);
  });

  it('deploys the demo onto VMs booting the manifest\'s stemcell; Redis answers', async () => {
    ok(await d.cli('-d', NAME, 'deploy', await manifestFor(first.version), '-n'));
    await putEverywhere('stemcell-key');
    const version = await d.cli('-d', NAME, 'ssh', 'docker-vm-1/0', '-c', 'cat /var/vcap/bosh/etc/stemcell_version');
    ok(version);
    expect(version.stdout.trim()).toBe(first.version);
    expect((await stemcells())[0]?.vms.sort()).toEqual((await instances()).map((i) => i.vmCid).sort());
  }, 600_000);

  it('refuses delete-stemcell while the VMs boot it, naming them', async () => {
    const r = await d.cli('-n', 'delete-stemcell', `${first.name}/${first.version}`);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain((await instances())[0]?.vmCid as string);
  });

  it('recreate keeps the data and the deployed stemcell, even with a newer one uploaded', async () => {
    ok(await d.cli('upload-stemcell', restamp(builtStemcellFile(), d.fx.dataDir, `${first.version}.1`)));
    const before = (await instances())[0]?.vmCid;
    ok(await d.cli('-d', NAME, 'recreate', 'docker-vm-1/0', '-n'));
    const after = (await instances())[0];
    expect(after?.vmCid).not.toBe(before);
    await expectEverywhere('stemcell-key');
    expect((await stemcells()).find((s) => s.version === first.version)?.vms).toContain(after?.vmCid);
  }, 300_000);

  it('a new stemcell version in the manifest: the dry run shows it, the deploy rolls the VMs canary first and keeps the data', async () => {
    const next = `${first.version}.1`;
    const file = await manifestFor(next);
    const dry = await d.cli('-d', NAME, 'deploy', file, '--dry-run');
    ok(dry);
    expect(dry.stdout).toContain(`docker-vm-1/0: stemcell: ${first.name}/${first.version} -> ${first.name}/${next}`);
    expect(dry.stdout).toContain(`docker-vm-1/1: stemcell: ${first.name}/${first.version} -> ${first.name}/${next}`);
    const before = (await instances()).map((i) => i.vmCid);
    const { task, events } = await d.json<{ task: TaskInfo; events: TaskEvent[] }>('-d', NAME, 'deploy', file, '-n');
    expect(task.state, task.error ?? '').toBe('done');
    const after = await instances();
    expect(after.map((i) => i.vmCid).filter((c) => before.includes(c))).toEqual([]);
    await expectEverywhere('stemcell-key');
    const updates = events.filter((e) => e.stage === 'Updating instance' && e.state === 'started').map((e) => e.step);
    expect(updates).toHaveLength(2);
    expect(updates[0]).toMatch(/\(canary\)$/);
    expect(updates[1]).not.toMatch(/canary/);
    const list = await stemcells();
    expect(list.find((s) => s.version === next)?.vms.sort()).toEqual(after.map((i) => i.vmCid).sort());
    ok(await d.cli('-n', 'delete-stemcell', `${first.name}/${first.version}`));
    expect((await stemcells()).map((s) => s.version)).toEqual([next]);
  }, 600_000);
});
