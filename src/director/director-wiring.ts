/**
 * Start-up pieces of the director that Director.create assembles: the retry policy of cloud calls
 * and the clean-up of VMs a crash left unrecorded.
 */
import type { Cloud } from '../cloud/cloud.js';
import { ExternalCloud } from '../cloud/external/index.js';
import { RecordedAttachmentsCloud, type AttachmentLedger, type RecordedAttachment } from '../cloud/recorded-attachments.js';
import { errorMessage } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import type { RetryPolicy } from '../common/retry.js';
import type { Store } from '../store/store.js';
import type { DirectorConfig } from './config.js';

/**
 * A crash during createVm leaves a VM whose cid the director never recorded: nothing would ever
 * use or delete it. Called at start-up (no task runs yet) when the director owns its cloud alone.
 */
export async function deleteVmsACrashLeft(cloud: Cloud, store: Store, logger: Logger): Promise<void> {
  if (!cloud.listVms) return;
  const known = new Set(await store.vms.listCids());
  for (const cid of await cloud.listVms()) {
    if (known.has(cid)) continue;
    logger.warn('deleting a VM that an interrupted task created but never recorded', { vmCid: cid });
    await cloud.deleteVm(cid).catch((err: unknown) =>
      logger.error('could not delete the unrecorded VM; delete it with `bosun cck`', { vmCid: cid, error: errorMessage(err) }),
    );
  }
}

/** The one retry policy of cloud calls, from the director's config. */
export function cloudRetryPolicy(config: DirectorConfig): RetryPolicy {
  return {
    attempts: config.cloudRetryAttempts,
    backoff: { initialMs: config.cloudRetryInitialBackoffMs, maxMs: config.cloudRetryMaxBackoffMs },
    deadlineMs: config.cloudRetryDeadlineMs,
  };
}

const CONFIG_CLOUD_ATTACHMENTS = 'cloud_attachments';

/** The director's record of which disk is attached to which VM, for a cloud whose get_disks is not trusted. */
export function storeAttachmentLedger(store: Store): AttachmentLedger {
  return {
    load: async () => JSON.parse((await store.config.get(CONFIG_CLOUD_ATTACHMENTS)) ?? '{}') as Record<string, RecordedAttachment>,
    save: (attachments) => store.config.set(CONFIG_CLOUD_ATTACHMENTS, JSON.stringify(attachments)),
  };
}

/**
 * The cloud driver the guarded wrapper wraps: an external CPI learns the director's uuid (its
 * context's director_uuid), and a cloud whose get_disks is not trusted (config
 * cloudGetDisksTrusted: false) answers getDisks from the director's own records.
 */
export function cloudDriver(cloud: Cloud, config: DirectorConfig, store: Store, directorUuid: string): Cloud {
  if (cloud instanceof ExternalCloud) cloud.setDirectorUuid(directorUuid);
  return config.cloudGetDisksTrusted ? cloud : new RecordedAttachmentsCloud(cloud, storeAttachmentLedger(store));
}
