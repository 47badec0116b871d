/**
 * Disk hints resolved against fake /dev and /sys trees: regular files stand in for block devices,
 * symlinks for the by-id links and the sysfs layout.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describeHint, idCandidates, resolveDiskHint } from '../../../src/agent/disks/resolve-device.js';
import { TimeoutError } from '../../../src/common/errors.js';

let root: string;
let dev: string;
let sys: string;
const fast = (): { devDir: string; sysDir: string; timeoutMs: number; intervalMs: number } => ({ devDir: dev, sysDir: sys, timeoutMs: 300, intervalMs: 20 });

async function file(path: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, '');
}
async function link(path: string, target: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await symlink(target, path);
}

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'bosun-resolve-'));
  dev = join(root, 'dev');
  sys = join(root, 'sys');
  await mkdir(dev);
  await mkdir(sys);
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('a device path', () => {
  it('resolves a bare string and {path}, following symlinks', async () => {
    await file(join(dev, 'xvdf'));
    await link(join(dev, 'sdf'), 'xvdf');
    expect(await resolveDiskHint('/dev/xvdf', fast())).toEqual({ kind: 'device', device: join(dev, 'xvdf') });
    expect(await resolveDiskHint({ path: '/dev/sdf' }, fast())).toEqual({ kind: 'device', device: join(dev, 'xvdf') });
  });

  it('waits for a device that appears late', async () => {
    setTimeout(() => void file(join(dev, 'sdc')), 80);
    expect(await resolveDiskHint({ path: '/dev/sdc' }, { ...fast(), timeoutMs: 2000 })).toEqual({ kind: 'device', device: join(dev, 'sdc') });
  });

  it('times out naming the hint and where it looked', async () => {
    const err = await resolveDiskHint({ path: '/dev/sdz' }, fast()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TimeoutError);
    expect((err as Error).message).toContain('{path: /dev/sdz}');
    expect((err as Error).message).toContain(join(dev, 'sdz'));
  });

  it('refuses an empty hint at once', async () => {
    await expect(resolveDiskHint({ path: '' }, fast())).rejects.toThrow(/empty disk hint/);
  });
});

describe('a directory', () => {
  it('is a directory disk', async () => {
    const d = join(root, 'warden-cpi-dev', 'disk-1');
    await mkdir(d, { recursive: true });
    expect(await resolveDiskHint({ path: d }, fast())).toEqual({ kind: 'directory', path: d });
  });
});

describe('{volume_id} and {id} through /dev/disk/by-id', () => {
  it('finds an AWS NVMe volume by its id without the dash, skipping partitions', async () => {
    await file(join(dev, 'nvme1n1'));
    await file(join(dev, 'nvme1n1p1'));
    await link(join(dev, 'disk/by-id/nvme-Amazon_Elastic_Block_Store_vol0abc123-part1'), '../../nvme1n1p1');
    await link(join(dev, 'disk/by-id/nvme-Amazon_Elastic_Block_Store_vol0abc123'), '../../nvme1n1');
    // The hint's path does not exist on a Nitro instance: the link decides.
    expect(await resolveDiskHint({ path: '/dev/xvdf', volume_id: 'vol-0abc123' }, fast())).toEqual({ kind: 'device', device: join(dev, 'nvme1n1') });
  });

  it('finds an OpenStack Cinder volume by its virtio serial (the first 20 characters)', async () => {
    const volume = '6a0f1c2d-3e4f-5a6b-7c8d-9e0f1a2b3c4d';
    await file(join(dev, 'vdb'));
    await link(join(dev, `disk/by-id/virtio-${volume.slice(0, 20)}`), '../../vdb');
    expect(await resolveDiskHint({ path: '', volume_id: volume }, fast())).toEqual({ kind: 'device', device: join(dev, 'vdb') });
    expect(idCandidates({ path: '', volume_id: volume })).toContain(volume.slice(0, 20));
  });

  it('finds a GCE disk by {id} (google- and scsi-0Google_PersistentDisk_ links to one device)', async () => {
    await file(join(dev, 'sdb'));
    await link(join(dev, 'disk/by-id/google-disk-abc'), '../../sdb');
    await link(join(dev, 'disk/by-id/scsi-0Google_PersistentDisk_disk-abc'), '../../sdb');
    expect(await resolveDiskHint({ path: '', id: 'disk-abc' }, fast())).toEqual({ kind: 'device', device: join(dev, 'sdb') });
  });

  it('falls back to the hint path when no link names the volume', async () => {
    await file(join(dev, 'xvdg'));
    expect(await resolveDiskHint({ path: '/dev/xvdg', volume_id: 'vol-9' }, fast())).toEqual({ kind: 'device', device: join(dev, 'xvdg') });
  });

  it('refuses links of one id pointing at different devices, and says so', async () => {
    await file(join(dev, 'sdb'));
    await file(join(dev, 'sdc'));
    await link(join(dev, 'disk/by-id/google-disk-x'), '../../sdb');
    await link(join(dev, 'disk/by-id/scsi-0Google_PersistentDisk_disk-x'), '../../sdc');
    await expect(resolveDiskHint({ path: '', id: 'disk-x' }, fast())).rejects.toThrow(/point to different devices/);
  });

  it('waits for the link of a volume attached a moment ago', async () => {
    await file(join(dev, 'nvme2n1'));
    setTimeout(() => void link(join(dev, 'disk/by-id/nvme-Amazon_Elastic_Block_Store_vol0def'), '../../nvme2n1'), 80);
    expect(await resolveDiskHint({ path: '', volume_id: 'vol-0def' }, { ...fast(), timeoutMs: 2000 })).toEqual({ kind: 'device', device: join(dev, 'nvme2n1') });
  });
});

describe('{lun, host_device_id} after a SCSI rescan', () => {
  const hostId = 'f8b3781b-1e82-4818-a1c3-63d806ec15bb';

  async function scsiHosts(n: number): Promise<void> {
    for (let i = 0; i < n; i++) await file(join(sys, `class/scsi_host/host${i}/scan`));
  }

  it('rescans every SCSI host and finds the device under the vmbus device (Azure)', async () => {
    await scsiHosts(2);
    await mkdir(join(sys, `bus/vmbus/devices/${hostId}/host3/target3:0:0/3:0:0:2/block/sdc`), { recursive: true });
    await file(join(dev, 'sdc'));
    expect(await resolveDiskHint({ path: '', lun: 2, host_device_id: hostId }, fast())).toEqual({ kind: 'device', device: join(dev, 'sdc') });
    expect(await readFile(join(sys, 'class/scsi_host/host0/scan'), 'utf8')).toBe('- - -');
    expect(await readFile(join(sys, 'class/scsi_host/host1/scan'), 'utf8')).toBe('- - -');
  });

  it('falls back to the one SCSI device at that LUN', async () => {
    await scsiHosts(1);
    await mkdir(join(sys, 'bus/scsi/devices/0:0:0:0/block/sda'), { recursive: true });
    await mkdir(join(sys, 'bus/scsi/devices/5:0:0:3/block/sdd'), { recursive: true });
    expect(await resolveDiskHint({ path: '', lun: '3', host_device_id: hostId }, fast())).toEqual({ kind: 'device', device: join(dev, 'sdd') });
  });

  it('takes no device when several are at that LUN, and says so', async () => {
    await mkdir(join(sys, 'bus/scsi/devices/0:0:0:1/block/sdb'), { recursive: true });
    await mkdir(join(sys, 'bus/scsi/devices/2:0:0:1/block/sdc'), { recursive: true });
    const err = await resolveDiskHint({ path: '', lun: 1 }, fast()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TimeoutError);
    expect((err as Error).message).toMatch(/several SCSI devices are at LUN 1/);
    expect((err as Error).message).toContain('lun: 1');
  });

  it('finds a LUN that appears after a later rescan', async () => {
    await scsiHosts(1);
    setTimeout(() => void mkdir(join(sys, `bus/vmbus/devices/${hostId}/host1/target1:0:0/1:0:0:4/block/sde`), { recursive: true }), 80);
    expect(await resolveDiskHint({ path: '', lun: 4, host_device_id: hostId }, { ...fast(), timeoutMs: 2000, rescanEvery: 1 })).toEqual({
      kind: 'device',
      device: join(dev, 'sde'),
    });
  });
});

describe('describeHint', () => {
  it('names every field the cloud gave', () => {
    expect(describeHint({ path: '/dev/xvdf', volume_id: 'vol-1' })).toBe('{volume_id: vol-1, path: /dev/xvdf}');
  });
});
