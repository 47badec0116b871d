import { redactValue } from '../common/redact.js';
import type { Logger } from '../common/logger.js';
import { DEFAULT_RETRY_POLICY, retry, type RetryPolicy } from '../common/retry.js';
import {
  CloudError,
  DiskAttachedElsewhereError,
  VmNotFoundError,
  type Cloud,
  type CloudInfo,
  type CreateVmRequest,
  type CreateVmResult,
  type VmMetadata,
} from './cloud.js';
import type { DiskHint } from '../common/contracts/disk-hint.js';

/** True when repeating the failed cloud call may succeed (BOSH's ok_to_retry). */
export function okToRetry(err: unknown): boolean {
  return err instanceof CloudError && err.okToRetry;
}

export interface GuardedCloudOptions {
  logger: Logger;
  /**
   * VM cids the caller knows of (e.g. from the director's store), used for the fencing check when
   * the driver lacks `findDiskAttachment`. VMs created through this wrapper are known anyway.
   */
  knownVmCids?: () => Promise<string[]>;
  /** How failed calls the cloud says may succeed (okToRetry) are repeated; default DEFAULT_RETRY_POLICY. */
  retry?: RetryPolicy;
}

/** A copy of a call's arguments fit for a log: certificates, keys and secrets replaced (src/common/redact.ts). */
export function redactArgs(value: unknown): unknown {
  return redactValue(value);
}

/**
 * The one wrapper every driver is used through. It logs each call (method, redacted arguments,
 * duration, outcome), turns foreign exceptions into CloudError, and enforces the fencing
 * invariant — a persistent disk is attached to at most one VM — before the driver sees the call
 * (drivers refuse too: defense in depth). A call that fails with `okToRetry` is repeated here,
 * with the one retry policy (src/common/retry.ts), and never anywhere else: callers see the last
 * failure only.
 */
export class GuardedCloud implements Cloud {
  private readonly logger: Logger;
  private readonly createdVms = new Set<string>();

  constructor(
    private readonly driver: Cloud,
    private readonly options: GuardedCloudOptions,
  ) {
    this.logger = options.logger.child({ component: 'cloud' });
  }

  /** The wrapped driver (for driver-specific helpers, e.g. LocalCloud.vmPid in tests). */
  get inner(): Cloud {
    return this.driver;
  }

  info(): Promise<CloudInfo> {
    return this.call('info', [], () => this.driver.info());
  }

  createStemcell(imagePath: string, cloudProperties: Record<string, unknown>): Promise<string> {
    return this.call('createStemcell', [imagePath, cloudProperties], () => this.driver.createStemcell(imagePath, cloudProperties));
  }

  deleteStemcell(stemcellCid: string): Promise<void> {
    return this.call('deleteStemcell', [stemcellCid], () => this.driver.deleteStemcell(stemcellCid));
  }

  createVm(request: CreateVmRequest): Promise<CreateVmResult> {
    return this.call('createVm', [request], async () => {
      for (const diskCid of request.diskCids) await this.assertNotAttachedElsewhere(diskCid, null);
      const result = await this.driver.createVm(request);
      this.createdVms.add(result.vmCid);
      return result;
    });
  }

  deleteVm(vmCid: string): Promise<void> {
    return this.call('deleteVm', [vmCid], async () => {
      await this.driver.deleteVm(vmCid);
      this.createdVms.delete(vmCid);
    });
  }

  hasVm(vmCid: string): Promise<boolean> {
    return this.call('hasVm', [vmCid], () => this.driver.hasVm(vmCid));
  }

  rebootVm(vmCid: string): Promise<void> {
    return this.call('rebootVm', [vmCid], () => this.driver.rebootVm(vmCid));
  }

  setVmMetadata(vmCid: string, metadata: VmMetadata): Promise<void> {
    return this.call('setVmMetadata', [vmCid, metadata], () => this.driver.setVmMetadata(vmCid, metadata));
  }

  createDisk(sizeMiB: number, cloudProperties: Record<string, unknown>, vmCid?: string): Promise<string> {
    return this.call('createDisk', [sizeMiB, cloudProperties, vmCid], () =>
      this.driver.createDisk(sizeMiB, cloudProperties, vmCid),
    );
  }

  deleteDisk(diskCid: string): Promise<void> {
    return this.call('deleteDisk', [diskCid], () => this.driver.deleteDisk(diskCid));
  }

  attachDisk(vmCid: string, diskCid: string): Promise<DiskHint> {
    return this.call('attachDisk', [vmCid, diskCid], async () => {
      await this.assertNotAttachedElsewhere(diskCid, vmCid);
      return this.driver.attachDisk(vmCid, diskCid);
    });
  }

  detachDisk(vmCid: string, diskCid: string): Promise<void> {
    return this.call('detachDisk', [vmCid, diskCid], () => this.driver.detachDisk(vmCid, diskCid));
  }

  hasDisk(diskCid: string): Promise<boolean> {
    return this.call('hasDisk', [diskCid], () => this.driver.hasDisk(diskCid));
  }

  getDisks(vmCid: string): Promise<string[]> {
    return this.call('getDisks', [vmCid], () => this.driver.getDisks(vmCid));
  }

  resizeDisk(diskCid: string, newSizeMiB: number): Promise<void> {
    return this.call('resizeDisk', [diskCid, newSizeMiB], () => this.driver.resizeDisk(diskCid, newSizeMiB));
  }

  /** Every VM of the cloud: the driver's listVms when it has one, else the VMs created through this wrapper. */
  listVms(): Promise<string[]> {
    return this.call('listVms', [], async () =>
      this.driver.listVms ? this.driver.listVms() : [...this.createdVms].sort(),
    );
  }

  findDiskAttachment(diskCid: string): Promise<string | null> {
    return this.call('findDiskAttachment', [diskCid], () => this.attachmentOf(diskCid, null));
  }

  /** The fencing rule, in one place: refuse when the disk is attached to a VM other than `wanted`. */
  private async assertNotAttachedElsewhere(diskCid: string, wanted: string | null): Promise<void> {
    const attachedTo = await this.attachmentOf(diskCid, wanted);
    if (attachedTo !== null && attachedTo !== wanted) {
      throw new DiskAttachedElsewhereError(diskCid, attachedTo, wanted ?? 'being created');
    }
  }

  private async attachmentOf(diskCid: string, skipVm: string | null): Promise<string | null> {
    if (this.driver.findDiskAttachment) return this.driver.findDiskAttachment(diskCid);
    const candidates = new Set([
      ...this.createdVms,
      ...((await this.driver.listVms?.()) ?? []),
      ...((await this.options.knownVmCids?.()) ?? []),
    ]);
    for (const vmCid of candidates) {
      if (vmCid === skipVm) continue;
      try {
        if ((await this.driver.getDisks(vmCid)).includes(diskCid)) return vmCid;
      } catch (err) {
        if (!(err instanceof VmNotFoundError)) throw err;
      }
    }
    return null;
  }

  private async call<T>(method: string, args: unknown[], fn: () => Promise<T>): Promise<T> {
    const started = performance.now();
    const logArgs = redactArgs(args);
    const elapsed = (): number => Math.round(performance.now() - started);
    try {
      const result = await retry(
        async () => {
          try {
            return await fn();
          } catch (err) {
            throw asCloudError(method, err);
          }
        },
        this.options.retry ?? DEFAULT_RETRY_POLICY,
        {
          what: `the cloud call ${method}`,
          onRetry: (err, attempt, delayMs) =>
            this.logger.warn('cloud call failed, retrying', {
              method,
              args: logArgs,
              attempt,
              delayMs,
              durationMs: elapsed(),
              outcome: 'retry',
              error: (err as Error).message,
            }),
        },
      );
      this.logger.debug('cloud call succeeded', { method, args: logArgs, durationMs: elapsed(), outcome: 'ok' });
      return result;
    } catch (err) {
      const cloudErr = asCloudError(method, err);
      this.logger.warn('cloud call failed', {
        method,
        args: logArgs,
        durationMs: elapsed(),
        outcome: 'error',
        errorType: cloudErr.type,
        okToRetry: cloudErr.okToRetry,
        error: cloudErr.message,
      });
      throw cloudErr;
    }
  }
}

/** Foreign exceptions become CloudError (not ok to retry: nothing vouches for a repeat). */
function asCloudError(method: string, err: unknown): CloudError {
  return err instanceof CloudError
    ? err
    : new CloudError(`the cloud call ${method} failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
}
