/**
 * The director driving its cloud through the external CPI protocol: `cloud: {type: external,
 * cpi: bosun-local-cpi}` in the director config, then deploy (redis on a persistent disk),
 * resurrection of a VM killed from outside, and a disk resize, all through CPI processes.
 * Needs root and `npm run build`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DiskInfo, InstanceInfo } from '../../src/common/contracts/api.js';
import type { DirectorFixture } from '../helpers/director-fixture.js';
import { redisManifest } from '../helpers/redis-deployment.js';
import { redisCommand } from '../helpers/redis-resp.js';
import { resurrectKilledVm, startExternalCpiDirector } from '../helpers/external-cpi-director.js';
import { waitUntil } from '../helpers/waits.js';

const NAME = 'e2e-external-cpi';

describe('the director on an external CPI (bosun-local-cpi)', () => {
  let d: DirectorFixture;
  const ok = (r: { code: number; stdout: string; stderr: string }) => expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
  const instance0 = async (): Promise<InstanceInfo> => {
    const [i] = await d.json<InstanceInfo[]>('-d', NAME, 'instances');
    if (!i?.ip || !i.vmCid) throw new Error('the instance has no VM or address');
    return i;
  };
  const manifestFile = async (diskMiB: number): Promise<string> => {
    const file = join(d.fx.dataDir, `redis-${diskMiB}.yml`);
    await writeFile(file, redisManifest({ name: NAME, diskMiB }));
    return file;
  };

  beforeAll(async () => {
    d = await startExternalCpiDirector();
  }, 180_000);
  afterAll(async () => {
    await d?.cleanup();
  }, 180_000);

  it('deploys redis with a persistent disk through CPI calls', async () => {
    ok(await d.cli('-d', NAME, 'deploy', await manifestFile(256), '-n'));
    const i = await instance0();
    expect(await redisCommand(i.ip as string, 6379, ['SET', 'cpi-key', 'kept'], 5000)).toBe('OK');
    const log = await d.log();
    expect(log).toContain('CPI info');
    expect(log).toMatch(/"method":"create_vm"/);
    expect(log).toMatch(/"method":"attach_disk"/);
  }, 300_000);

  it('resurrects a VM killed from outside, with its disk and data', async () => {
    const before = await instance0();
    const { after, view } = await resurrectKilledVm(d, NAME, before);
    const value = await waitUntil('redis answering', () => redisCommand(after.ip as string, 6379, ['GET', 'cpi-key'], 2000).catch(() => undefined), 60_000);
    expect(value).toBe('kept');
    expect(await view.hasVm(before.vmCid as string)).toBe(false);
  }, 300_000);

  it('grows the persistent disk (resize_disk through the CPI), keeping the data', async () => {
    const [disk] = await d.json<DiskInfo[]>('-d', NAME, 'disks');
    ok(await d.cli('-d', NAME, 'deploy', await manifestFile(512), '-n'));
    const [grown] = await d.json<DiskInfo[]>('-d', NAME, 'disks');
    expect(grown?.sizeMiB).toBe(512);
    expect(grown?.diskCid).toBe(disk?.diskCid); // grown in place, not copied
    expect(await d.log()).toMatch(/"method":"resize_disk"/);
    const i = await instance0();
    expect(await redisCommand(i.ip as string, 6379, ['GET', 'cpi-key'], 5000)).toBe('kept');
  }, 300_000);
});
