/**
 * The one contract every Cloud implementation must satisfy (BOSH CPI semantics), run against each
 * of them (fake-cloud.test.ts, local-cloud.test.ts).
 */
import { describe, expect, it } from 'vitest';
import {
  CloudError,
  DiskNotAttachedError,
  DiskNotFoundError,
  NotSupportedError,
  VmNotFoundError,
  type Cloud,
  type CreateVmRequest,
} from '../../src/cloud/cloud.js';

export interface CloudUnderTest {
  cloud: Cloud;
}

export function vmRequest(agentId: string, diskCids: string[] = [], stemcell = 'default'): CreateVmRequest {
  return {
    agentId,
    stemcell,
    cloudProperties: {},
    networks: { default: { ip: '', netmask: '' } },
    diskCids,
    env: {
      directorUrl: 'https://127.0.0.1:25555',
      caPem: 'ca',
      certPem: 'cert',
      keyPem: 'SECRET-KEY',
      heartbeatIntervalMs: 1000,
    },
  };
}

async function expectCloudError(
  promise: Promise<unknown>,
  type: new (...args: never[]) => CloudError,
): Promise<CloudError> {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(type);
  const cloudErr = err as CloudError;
  expect(cloudErr.okToRetry).toBe(false);
  return cloudErr;
}

/**
 * `getCloud` (and `getStemcell`, the stemcell cid VMs boot; default 'default') is called inside
 * each test, after the caller's beforeAll created it.
 */
export function describeCloudContract(name: string, getCloud: () => Cloud, getStemcell?: () => string): void {
  const vmRequestOf = (agentId: string, diskCids: string[] = []): CreateVmRequest =>
    vmRequest(agentId, diskCids, getStemcell?.() ?? 'default');
  describe(`Cloud contract: ${name}`, () => {
    it('info() describes the cloud', async () => {
      const info = await getCloud().info();
      expect(info.name).toBeTruthy();
      expect(info.apiVersion).toBeGreaterThanOrEqual(1);
      expect(typeof info.supportsResizeDisk).toBe('boolean');
    });

    it('creates and deletes a VM; deleting twice is fine', async () => {
      const cloud = getCloud();
      const { vmCid, networks } = await cloud.createVm(vmRequestOf('agent-create-delete'));
      expect(vmCid).toBeTruthy();
      const net = Object.values(networks)[0];
      expect(net?.ip).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
      expect(await cloud.hasVm(vmCid)).toBe(true);
      await cloud.setVmMetadata(vmCid, { deployment: 'demo', name: 'web/0' });
      await cloud.deleteVm(vmCid);
      expect(await cloud.hasVm(vmCid)).toBe(false);
      await cloud.deleteVm(vmCid);
      expect(await cloud.hasVm(vmCid)).toBe(false);
    });

    it('gives two VMs different addresses', async () => {
      const cloud = getCloud();
      const a = await cloud.createVm(vmRequestOf('agent-addr-a'));
      const b = await cloud.createVm(vmRequestOf('agent-addr-b'));
      try {
        expect(a.vmCid).not.toBe(b.vmCid);
        expect(Object.values(a.networks)[0]?.ip).not.toBe(Object.values(b.networks)[0]?.ip);
      } finally {
        await cloud.deleteVm(a.vmCid);
        await cloud.deleteVm(b.vmCid);
      }
    });

    it('creates, attaches, detaches and deletes a disk', async () => {
      const cloud = getCloud();
      const { vmCid } = await cloud.createVm(vmRequestOf('agent-disk'));
      const diskCid = await cloud.createDisk(16, {});
      try {
        expect(await cloud.hasDisk(diskCid)).toBe(true);
        expect(await cloud.getDisks(vmCid)).toEqual([]);
        const hint = await cloud.attachDisk(vmCid, diskCid);
        expect(hint.path).toBeTruthy();
        expect(await cloud.getDisks(vmCid)).toEqual([diskCid]);
        // attaching again to the same VM is idempotent
        expect((await cloud.attachDisk(vmCid, diskCid)).path).toBe(hint.path);
        await cloud.detachDisk(vmCid, diskCid);
        expect(await cloud.getDisks(vmCid)).toEqual([]);
        await cloud.deleteDisk(diskCid);
        expect(await cloud.hasDisk(diskCid)).toBe(false);
      } finally {
        await cloud.deleteVm(vmCid);
        if (await cloud.hasDisk(diskCid)) await cloud.deleteDisk(diskCid);
      }
    });

    it('attaches the disks given to createVm', async () => {
      const cloud = getCloud();
      const diskCid = await cloud.createDisk(16, {});
      const { vmCid } = await cloud.createVm(vmRequestOf('agent-with-disk', [diskCid]));
      try {
        expect(await cloud.getDisks(vmCid)).toEqual([diskCid]);
      } finally {
        await cloud.deleteVm(vmCid);
        // deleting the VM leaves the disk, detached
        expect(await cloud.hasDisk(diskCid)).toBe(true);
        await cloud.deleteDisk(diskCid);
      }
    });

    it('fences a disk: refused while attached elsewhere, allowed after detach or after the VM is deleted', async () => {
      const cloud = getCloud();
      const first = await cloud.createVm(vmRequestOf('agent-fence-1'));
      const second = await cloud.createVm(vmRequestOf('agent-fence-2'));
      const diskCid = await cloud.createDisk(16, {});
      try {
        await cloud.attachDisk(first.vmCid, diskCid);
        const err = await cloud.attachDisk(second.vmCid, diskCid).then(
          () => null,
          (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(CloudError);
        expect(String((err as Error).message)).toContain(first.vmCid);
        expect(await cloud.getDisks(second.vmCid)).toEqual([]);
        expect(await cloud.getDisks(first.vmCid)).toEqual([diskCid]);

        await cloud.detachDisk(first.vmCid, diskCid);
        await cloud.attachDisk(second.vmCid, diskCid);
        expect(await cloud.getDisks(second.vmCid)).toEqual([diskCid]);
        await expect(cloud.attachDisk(first.vmCid, diskCid)).rejects.toBeInstanceOf(CloudError);

        await cloud.deleteVm(second.vmCid);
        await cloud.attachDisk(first.vmCid, diskCid);
        expect(await cloud.getDisks(first.vmCid)).toEqual([diskCid]);
      } finally {
        await cloud.deleteVm(first.vmCid);
        await cloud.deleteVm(second.vmCid);
        await cloud.deleteDisk(diskCid);
      }
    });

    it('resizes a detached disk (grow) or says NotSupported with a typed error', async () => {
      const cloud = getCloud();
      const info = await cloud.info();
      const diskCid = await cloud.createDisk(16, {});
      try {
        if (info.supportsResizeDisk) {
          await cloud.resizeDisk(diskCid, 32);
          expect(await cloud.hasDisk(diskCid)).toBe(true);
          await expect(cloud.resizeDisk(diskCid, 40.5)).rejects.toThrow(/must be a positive whole number of MiB/);
        } else {
          await expectCloudError(cloud.resizeDisk(diskCid, 32), NotSupportedError);
        }
        // shrinking is never done in place by these clouds: the director migrates by copy
        const shrink = await cloud.resizeDisk(diskCid, 8).then(
          () => null,
          (e: unknown) => e,
        );
        expect(shrink).toBeInstanceOf(NotSupportedError);
      } finally {
        await cloud.deleteDisk(diskCid);
      }
    });

    it('raises typed, non-retryable errors for unknown cids', async () => {
      const cloud = getCloud();
      await expectCloudError(cloud.rebootVm('vm-does-not-exist'), VmNotFoundError);
      await expectCloudError(cloud.setVmMetadata('vm-does-not-exist', {}), VmNotFoundError);
      await expectCloudError(cloud.getDisks('vm-does-not-exist'), VmNotFoundError);
      expect(await cloud.hasVm('vm-does-not-exist')).toBe(false);
      expect(await cloud.hasDisk('disk-does-not-exist')).toBe(false);
      await expectCloudError(cloud.deleteDisk('disk-does-not-exist'), DiskNotFoundError);
      await expectCloudError(cloud.resizeDisk('disk-does-not-exist', 32), DiskNotFoundError);

      const { vmCid } = await cloud.createVm(vmRequestOf('agent-errors'));
      const diskCid = await cloud.createDisk(16, {});
      try {
        await expectCloudError(cloud.attachDisk(vmCid, 'disk-does-not-exist'), DiskNotFoundError);
        await expectCloudError(cloud.attachDisk('vm-does-not-exist', diskCid), VmNotFoundError);
        await expectCloudError(cloud.detachDisk(vmCid, diskCid), DiskNotAttachedError);
        await expectCloudError(cloud.detachDisk(vmCid, 'disk-does-not-exist'), DiskNotFoundError);
      } finally {
        await cloud.deleteVm(vmCid);
        await cloud.deleteDisk(diskCid);
      }
    });
  });
}
