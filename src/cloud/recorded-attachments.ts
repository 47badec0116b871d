/**
 * For a CPI whose get_disks cannot be trusted (bosh-docker-cpi answers [] always): a wrapper that
 * answers getDisks and findDiskAttachment from a ledger of the attachments made through it (the
 * director keeps the ledger in its store), so that the director's own records decide. Because it
 * has findDiskAttachment, GuardedCloud fences every attach against the ledger before the CPI sees
 * it; attaching a disk the ledger already has on the same VM returns the recorded hint without
 * calling the CPI (some CPIs destroy a VM on a second attach of the same disk).
 */
import type { DiskHint } from '../common/contracts/disk-hint.js';
import { Mutex } from '../common/mutex.js';
import {
  DiskAttachedElsewhereError,
  DiskNotAttachedError,
  type Cloud,
  type CloudInfo,
  type CreateVmRequest,
  type CreateVmResult,
  type VmMetadata,
  VmNotFoundError,
} from './cloud.js';

export interface RecordedAttachment {
  vmCid: string;
  hint: DiskHint | null;
}

/** Where the ledger is kept: disk cid → the VM it is attached to. */
export interface AttachmentLedger {
  load(): Promise<Record<string, RecordedAttachment>>;
  save(attachments: Record<string, RecordedAttachment>): Promise<void>;
}

export class RecordedAttachmentsCloud implements Cloud {
  private readonly mutex = new Mutex();

  constructor(
    private readonly driver: Cloud,
    private readonly ledger: AttachmentLedger,
  ) {}

  get inner(): Cloud {
    return this.driver;
  }

  info(): Promise<CloudInfo> {
    return this.driver.info();
  }
  createStemcell(imagePath: string, cloudProperties: Record<string, unknown>): Promise<string> {
    return this.driver.createStemcell(imagePath, cloudProperties);
  }
  deleteStemcell(stemcellCid: string): Promise<void> {
    return this.driver.deleteStemcell(stemcellCid);
  }

  async createVm(request: CreateVmRequest): Promise<CreateVmResult> {
    const all = await this.ledger.load();
    for (const diskCid of request.diskCids) {
      const at = all[diskCid];
      if (at !== undefined) throw new DiskAttachedElsewhereError(diskCid, at.vmCid, 'being created');
    }
    // Not under the lock: VMs are created in parallel (createVm with disks is rare: the director attaches after).
    const result = await this.driver.createVm(request);
    if (request.diskCids.length > 0) {
      await this.change(async (now) => {
        for (const diskCid of request.diskCids) now[diskCid] = { vmCid: result.vmCid, hint: null };
      });
    }
    return result;
  }

  async deleteVm(vmCid: string): Promise<void> {
    await this.driver.deleteVm(vmCid);
    await this.change(async (all) => {
      for (const [diskCid, at] of Object.entries(all)) if (at.vmCid === vmCid) delete all[diskCid];
    });
  }

  hasVm(vmCid: string): Promise<boolean> {
    return this.driver.hasVm(vmCid);
  }
  rebootVm(vmCid: string): Promise<void> {
    return this.driver.rebootVm(vmCid);
  }
  setVmMetadata(vmCid: string, metadata: VmMetadata): Promise<void> {
    return this.driver.setVmMetadata(vmCid, metadata);
  }
  createDisk(sizeMiB: number, cloudProperties: Record<string, unknown>, vmCid?: string): Promise<string> {
    return this.driver.createDisk(sizeMiB, cloudProperties, vmCid);
  }

  async deleteDisk(diskCid: string): Promise<void> {
    await this.driver.deleteDisk(diskCid);
    await this.change(async (all) => {
      delete all[diskCid];
    });
  }

  attachDisk(vmCid: string, diskCid: string): Promise<DiskHint> {
    return this.change(async (all) => {
      const at = all[diskCid];
      if (at !== undefined && at.vmCid !== vmCid) throw new DiskAttachedElsewhereError(diskCid, at.vmCid, vmCid);
      if (at !== undefined && at.hint !== null) return at.hint;
      const hint = await this.driver.attachDisk(vmCid, diskCid);
      all[diskCid] = { vmCid, hint };
      return hint;
    });
  }

  detachDisk(vmCid: string, diskCid: string): Promise<void> {
    return this.change(async (all) => {
      if (all[diskCid]?.vmCid !== vmCid) throw new DiskNotAttachedError(vmCid, diskCid);
      await this.driver.detachDisk(vmCid, diskCid);
      delete all[diskCid];
    });
  }

  hasDisk(diskCid: string): Promise<boolean> {
    return this.driver.hasDisk(diskCid);
  }

  /** The ledger's disks of the VM (VmNotFoundError when the cloud does not have the VM). */
  async getDisks(vmCid: string): Promise<string[]> {
    if (!(await this.driver.hasVm(vmCid))) throw new VmNotFoundError(vmCid);
    const all = await this.ledger.load();
    return Object.entries(all)
      .filter(([, at]) => at.vmCid === vmCid)
      .map(([diskCid]) => diskCid)
      .sort();
  }

  resizeDisk(diskCid: string, newSizeMiB: number): Promise<void> {
    return this.driver.resizeDisk(diskCid, newSizeMiB);
  }

  async findDiskAttachment(diskCid: string): Promise<string | null> {
    return (await this.ledger.load())[diskCid]?.vmCid ?? null;
  }

  private change<T>(fn: (all: Record<string, RecordedAttachment>) => Promise<T>): Promise<T> {
    return this.mutex.run(async () => {
      const all = await this.ledger.load();
      try {
        return await fn(all);
      } finally {
        await this.ledger.save(all);
      }
    });
  }
}
