import { afterAll, describe, expect, it } from 'vitest';
import { DiskNotAttachedError, type Cloud } from '../../../src/cloud/cloud.js';
import { FakeCloud } from '../../../src/cloud/fake/fake-cloud.js';
import { GuardedCloud } from '../../../src/cloud/guarded-cloud.js';
import { RecordedAttachmentsCloud, type AttachmentLedger, type RecordedAttachment } from '../../../src/cloud/recorded-attachments.js';
import { silentLogger } from '../../../src/common/logger.js';
import { vmRequest } from '../../contract/cloud-contract.js';

const fake = new FakeCloud();
afterAll(() => fake.shutdown());

/** A CPI like bosh-docker-cpi: get_disks answers [] always, no fencing of its own, a second attach of the same disk "destroys the VM". */
function untrustworthyCpi(): Cloud & { attaches: number } {
  const cpi = {
    attaches: 0,
    info: () => fake.info(),
    createStemcell: (i: string, p: Record<string, unknown>) => fake.createStemcell(i, p),
    deleteStemcell: (c: string) => fake.deleteStemcell(c),
    createVm: (r: Parameters<Cloud['createVm']>[0]) => fake.createVm({ ...r, diskCids: [] }),
    deleteVm: (v: string) => fake.deleteVm(v),
    hasVm: (v: string) => fake.hasVm(v),
    rebootVm: (v: string) => fake.rebootVm(v),
    setVmMetadata: async () => undefined,
    createDisk: (s: number, p: Record<string, unknown>) => fake.createDisk(s, p),
    deleteDisk: (d: string) => fake.deleteDisk(d),
    attachDisk: async (_v: string, d: string) => {
      cpi.attaches++;
      return { path: `/warden-cpi-dev/${d}` };
    },
    detachDisk: async () => undefined,
    hasDisk: (d: string) => fake.hasDisk(d),
    getDisks: async () => [],
    resizeDisk: async () => undefined,
  };
  return cpi;
}

function memoryLedger(): AttachmentLedger & { data: Record<string, RecordedAttachment> } {
  const l = {
    data: {} as Record<string, RecordedAttachment>,
    load: async () => structuredClone(l.data),
    save: async (a: Record<string, RecordedAttachment>) => void (l.data = structuredClone(a)),
  };
  return l;
}

describe('RecordedAttachmentsCloud: the director\'s records decide where get_disks cannot be trusted', () => {
  it('answers get_disks from the ledger, fences before the CPI sees an attach, and never attaches twice', async () => {
    const cpi = untrustworthyCpi();
    const ledger = memoryLedger();
    const cloud = new GuardedCloud(new RecordedAttachmentsCloud(cpi, ledger), { logger: silentLogger });
    const a = await cloud.createVm(vmRequest('a'));
    const b = await cloud.createVm(vmRequest('b'));
    const disk = await cloud.createDisk(16, {});
    const hint = await cloud.attachDisk(a.vmCid, disk);
    expect(await cloud.getDisks(a.vmCid)).toEqual([disk]);
    expect(await cloud.attachDisk(a.vmCid, disk)).toEqual(hint);
    expect(cpi.attaches).toBe(1);
    await expect(cloud.attachDisk(b.vmCid, disk)).rejects.toThrow(new RegExp(`still attached to VM ${a.vmCid}`));
    expect(cpi.attaches).toBe(1);
    await expect(cloud.detachDisk(b.vmCid, disk)).rejects.toBeInstanceOf(DiskNotAttachedError);
    await cloud.deleteVm(a.vmCid);
    expect(ledger.data).toEqual({});
    await cloud.attachDisk(b.vmCid, disk);
    expect(cpi.attaches).toBe(2);
    await cloud.detachDisk(b.vmCid, disk);
    expect(await cloud.getDisks(b.vmCid)).toEqual([]);
    await cloud.deleteVm(b.vmCid);
    await cloud.deleteDisk(disk);
  });
});
