/**
 * The director on a warden/docker-style CPI: bosun-local-cpi with `disk_kind: directory` (a
 * persistent disk is a host directory the VM sees at /warden-cpi-dev/<cid>, which the agent
 * bind-mounts at its store) and `recreate_vm_on_attach: true` (attach_disk and detach_disk restart
 * the VM with its ephemeral data lost, as bosh-docker-cpi recreates its container). Redis's data on
 * the store survives a resurrection (VM replaced, disk re-attached: the new VM is recreated on the
 * attach and the director re-applies the spec) and a disk resize (by copy: a directory has no
 * size to grow). Needs root and `npm run build`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DiskInfo, InstanceInfo } from '../../src/common/contracts/api.js';
import type { DirectorFixture } from '../helpers/director-fixture.js';
import { redisManifest } from '../helpers/redis-deployment.js';
import { redisCommand } from '../helpers/redis-resp.js';
import { resurrectKilledVm, startExternalCpiDirector } from '../helpers/external-cpi-director.js';
import { waitUntil } from '../helpers/waits.js';

const NAME = 'e2e-cpi-dir-disks';

describe('the director on a CPI with directory disks that recreates VMs on attach (bosun-local-cpi)', () => {
  let d: DirectorFixture;
  const ok = (r: { code: number; stdout: string; stderr: string }) => expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
  const instance0 = async (): Promise<InstanceInfo & { ip: string; vmCid: string; diskCid: string }> => {
    const [i] = await d.json<InstanceInfo[]>('-d', NAME, 'instances');
    const diskCid = i?.diskCids[0];
    if (!i?.ip || !i.vmCid || !diskCid) throw new Error('the instance has no VM, address or disk');
    return { ...i, ip: i.ip, vmCid: i.vmCid, diskCid };
  };
  const manifestFile = async (diskMiB: number): Promise<string> => {
    const file = join(d.fx.dataDir, `redis-${diskMiB}.yml`);
    await writeFile(file, redisManifest({ name: NAME, diskMiB }));
    return file;
  };
  /** The disk's directory on the host while attached to `vmCid`. */
  const attachedDir = (vmCid: string, diskCid: string): string => join(d.cloudDir, 'vms', vmCid, 'attached-disks', diskCid);
  const recreatedOnAttach = async (): Promise<number> => ((await d.log()).match(/VM recreated on attach_disk/g) ?? []).length;

  beforeAll(async () => {
    d = await startExternalCpiDirector({ disk_kind: 'directory', recreate_vm_on_attach: true });
  }, 180_000);
  afterAll(async () => {
    await d?.cleanup();
  }, 180_000);

  it('deploys redis on a directory disk: the data lands in the host directory, the VM was recreated on attach', async () => {
    ok(await d.cli('-d', NAME, 'deploy', await manifestFile(256), '-n'));
    const i = await instance0();
    expect(await redisCommand(i.ip, 6379, ['SET', 'dir-key', 'kept'], 5000)).toBe('OK');
    // The store is the host directory, bind-mounted: redis's files are there, not on a loop device.
    const dir = attachedDir(i.vmCid, i.diskCid);
    expect(await readdir(join(dir, 'containers', 'redis'))).toContain('var');
    const log = await d.log();
    expect(log).toMatch(/"method":"attach_disk"/);
    // bosun-local-cpi logs to stderr, which the director keeps in its debug log.
    expect(await recreatedOnAttach()).toBeGreaterThanOrEqual(1);
  }, 120_000);

  it('resurrects a VM killed from outside: disk re-attached (VM recreated again), spec re-applied, data kept', async () => {
    const before = await instance0();
    const recreationsBefore = await recreatedOnAttach();
    const { after } = await resurrectKilledVm(d, NAME, before, 120_000);
    const value = await waitUntil('redis answering', () => redisCommand(after.ip as string, 6379, ['GET', 'dir-key'], 2000).catch(() => undefined), 60_000);
    expect(value).toBe('kept');
    expect(existsSync(attachedDir(after.vmCid as string, before.diskCid))).toBe(true);
    expect(await recreatedOnAttach()).toBeGreaterThan(recreationsBefore);
  }, 240_000);

  it('resizes the directory disk by copy (never resize_disk), keeping the data; the old directory is kept as an orphan', async () => {
    const before = await instance0();
    ok(await d.cli('-d', NAME, 'deploy', await manifestFile(512), '-n'));
    const after = await instance0();
    const disks = await d.json<DiskInfo[]>('-d', NAME, 'disks');
    expect(disks.find((x) => x.state === 'active')).toMatchObject({ diskCid: after.diskCid, sizeMiB: 512 });
    expect(after.diskCid).not.toBe(before.diskCid);
    expect(await d.log()).not.toMatch(/"method":"resize_disk"/);
    const value = await waitUntil('redis answering', () => redisCommand(after.ip, 6379, ['GET', 'dir-key'], 2000).catch(() => undefined), 60_000);
    expect(value).toBe('kept');
    // Detached, not deleted: the old disk's directory is back under the cloud's disks.
    expect(existsSync(join(d.cloudDir, 'disks', `${before.diskCid}.dir`))).toBe(true);
  }, 240_000);
});
