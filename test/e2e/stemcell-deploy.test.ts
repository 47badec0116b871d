/**
 * The demo on stemcell VMs: a director with `stemcell: latest` (docs/stemcells.md), the stemcell
 * setup built uploaded with the CLI, examples/demo.yml deployed, recreate keeping data, a second
 * stemcell version taking over recreated VMs, delete-stemcell refused while in use.
 * Needs root, `npm run build` and a built stemcell (scripts/build-stemcell.sh).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import type { InstanceInfo, StemcellInfo } from '../../src/common/contracts/api.js';
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

describe('the demo on stemcell VMs (director config stemcell: latest)', () => {
  let d: DirectorFixture;
  let manifest: string;
  const ok = (r: { code: number; stdout: string; stderr: string }) => expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
  const instance0 = async (): Promise<InstanceInfo> => {
    const [i] = await d.json<InstanceInfo[]>('-d', NAME, 'instances');
    if (!i?.ip) throw new Error('the instance has no address');
    return i;
  };
  const stemcells = () => d.json<StemcellInfo[]>('stemcells');

  beforeAll(async () => {
    d = await startDirectorFixture({ images: ['busybox', 'redis'], extraConfig: 'stemcell: latest\n' });
    const m = parse(await readFile(new URL('../../examples/demo.yml', import.meta.url), 'utf8')) as {
      name: string;
      instance_groups: Array<{ containers: Array<{ name: string; stop_timeout?: number }> }>;
    };
    m.name = NAME;
    for (const c of m.instance_groups[0]?.containers ?? []) if (c.name !== 'redis') c.stop_timeout = 1;
    manifest = join(d.fx.dataDir, 'demo.yml');
    await writeFile(manifest, stringify(m));
  }, 180_000);
  afterAll(async () => {
    await d?.cleanup();
  }, 180_000);

  it('uploads the stemcell once (a second upload is a no-op)', async () => {
    const file = builtStemcellFile();
    ok(await d.cli('upload-stemcell', file));
    ok(await d.cli('upload-stemcell', file));
    const list = await stemcells();
    expect(list).toHaveLength(1);
    expect(list[0]?.operatingSystem).toBe('debian-12');
  }, 300_000);

  it('deploys the demo onto a VM booting the stemcell; Redis answers', async () => {
    ok(await d.cli('-d', NAME, 'deploy', manifest, '-n'));
    const i = await instance0();
    expect(await redisCommand(i.ip as string, 6379, ['SET', 'stemcell-key', 'kept'], 5000)).toBe('OK');
    const version = await d.cli('-d', NAME, 'ssh', 'docker-vm-1/0', '-c', 'cat /var/vcap/bosh/etc/stemcell_version');
    ok(version);
    expect(version.stdout.trim()).toBe((await stemcells())[0]?.version);
    expect((await stemcells())[0]?.vms).toEqual([i.vmCid]);
  }, 300_000);

  it('refuses delete-stemcell while the VM boots it, naming the VM', async () => {
    const [s] = await stemcells();
    const r = await d.cli('-n', 'delete-stemcell', `${s?.name}/${s?.version}`);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain((await instance0()).vmCid as string);
  });

  it('a second stemcell version: recreate moves the VM to it, keeping the data; the first can then be deleted', async () => {
    const [first] = await stemcells();
    ok(await d.cli('upload-stemcell', restamp(builtStemcellFile(), d.fx.dataDir, `${first?.version}.1`)));
    const before = (await instance0()).vmCid;
    ok(await d.cli('-d', NAME, 'recreate', 'docker-vm-1/0', '-n'));
    const i = await instance0();
    expect(i.vmCid).not.toBe(before);
    expect(await redisCommand(i.ip as string, 6379, ['GET', 'stemcell-key'], 5000)).toBe('kept');
    const list = await stemcells();
    expect(list.find((s) => s.version === `${first?.version}.1`)?.vms).toEqual([i.vmCid]);
    ok(await d.cli('-n', 'delete-stemcell', `${first?.name}/${first?.version}`));
    expect((await stemcells()).map((s) => s.version)).toEqual([`${first?.version}.1`]);
  }, 300_000);
});
