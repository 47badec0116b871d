/**
 * Grow in place, when the cloud can (CloudInfo.supportsResizeDisk): stop → unmount → detach →
 * resizeDisk → attach → mount (the agent runs resize2fs) → start. No copy: the downtime does not
 * grow with the data. A failure puts the disk back where it was as far as it can, and the error
 * says what is true afterwards (attached? mounted? containers running?), not what was hoped for.
 */
import { NotSupportedError } from '../../cloud/cloud.js';
import { errorMessage } from '../../common/errors.js';
import type { DiskRecord } from '../../store/store.js';
import type { TaskContext } from '../tasks/task-context.js';
import { detachIgnoringAbsent } from './detach.js';
import {
  Steps,
  agentAgain,
  agentCall,
  reapplyIfAgentLostSpec,
  ensureMountedAtStore,
  ignoringCancel,
  startContainers,
  stopContainers,
  wrap,
  type DiskResizeDeps,
  type DiskResizeTarget,
} from './resize-steps.js';

export async function growInPlace(
  deps: DiskResizeDeps,
  ctx: TaskContext,
  t: DiskResizeTarget,
  disk: DiskRecord,
  wantedMiB: number,
): Promise<DiskRecord> {
  const { vmCid } = t;
  const steps = new Steps(ctx, `Growing persistent disk of ${t.name} from ${disk.sizeMiB} to ${wantedMiB} MiB`, 7);
  const attached = (await deps.cloud.getDisks(vmCid)).includes(disk.cid);
  let stopped = false;
  try {
    if (attached) {
      await steps.run('stop containers', async () => {
        stopped = true;
        await stopContainers(deps, ctx, t);
      });
      await steps.run('unmount disk', () =>
        agentCall(deps, ctx, `unmount_disk on ${t.name}`, deps.config.applyTimeoutMs, (signal) =>
          t.agent.unmountDisk(disk.cid, { signal }),
        ),
      );
      await steps.run('detach disk', async () => {
        await detachIgnoringAbsent(deps.cloud, vmCid, disk.cid);
        await agentAgain(deps, ctx, t);
      });
    }
    await steps.run('resize disk in the cloud', async () => {
      await deps.cloud.resizeDisk(disk.cid, wantedMiB);
      await deps.store.disks.setSize(disk.cid, wantedMiB);
    });
    let specLost = false;
    const hint = await steps.run('attach disk', async () => {
      const h = await deps.cloud.attachDisk(vmCid, disk.cid);
      await deps.store.disks.setHint(disk.cid, h);
      // A CPI may recreate the VM to attach: wait for its agent before mounting.
      specLost = (await agentAgain(deps, ctx, t)).specHash === null;
      return h;
    });
    await steps.run('mount disk and grow its filesystem', async () => {
      const request = { diskCid: disk.cid, hint, target: 'store' as const, ...(disk.mountedBefore ? {} : { newDisk: true }) };
      await agentCall(deps, ctx, `mount_disk on ${t.name}`, deps.config.applyTimeoutMs, (signal) =>
        t.agent.mountDisk(request, { signal }),
      );
      await deps.store.disks.markMounted(disk.cid);
      if (specLost) await reapplyIfAgentLostSpec(deps, ctx, t, { specHash: null });
    });
    if (stopped && t.desired === 'started') await steps.run('start containers', () => startContainers(deps, ctx, t));
  } catch (err) {
    // Put the disk back where it was (same size or grown: either way the data is on it), then re-raise.
    const after = await restoreAfterFailedGrow(deps, ignoringCancel(ctx), t, disk, { stopped });
    if (err instanceof NotSupportedError && after.mounted && after.started !== false) throw err;
    throw wrap(
      err,
      `Growing the persistent disk ${disk.cid} of ${t.name} from ${disk.sizeMiB} to ${wantedMiB} MiB failed at step "${steps.current}"`,
      describeRestore(disk.cid, after),
    );
  }
  const after = await deps.store.disks.get(disk.cid);
  return after ?? { ...disk, sizeMiB: wantedMiB };
}

/** What is true after a failed grow tried to put things back. */
export interface GrowRestoreOutcome {
  attached: boolean;
  mounted: boolean;
  /** null: the containers were not stopped (or the instance is stopped on purpose). */
  started: boolean | null;
  error?: string;
}

async function restoreAfterFailedGrow(
  deps: DiskResizeDeps,
  ctx: TaskContext,
  t: DiskResizeTarget,
  disk: DiskRecord,
  state: { stopped: boolean },
): Promise<GrowRestoreOutcome> {
  const out: GrowRestoreOutcome = { attached: false, mounted: false, started: state.stopped && t.desired === 'started' ? false : null };
  try {
    // Attaches it again when the grow detached it (or the cloud lost it), then mounts it at the store.
    await ensureMountedAtStore(deps, ctx, t, (await deps.store.disks.get(disk.cid)) ?? disk);
    out.attached = out.mounted = true;
    if (out.started === false) {
      await startContainers(deps, ctx, t);
      out.started = true;
    }
  } catch (err) {
    out.error = errorMessage(err);
    if (!out.mounted) {
      out.attached = await deps.cloud.getDisks(t.vmCid).then((cids) => cids.includes(disk.cid), () => false);
    }
    ctx.logger.error('could not restore the disk after a failed grow; the next deploy re-attaches it', {
      disk: disk.cid,
      error: out.error,
    });
  }
  return out;
}

export function describeRestore(diskCid: string, o: GrowRestoreOutcome): string {
  if (o.attached && o.mounted && o.started !== false) {
    return `The disk ${diskCid} is attached and mounted again${o.started === true ? ' and the containers run on it' : ''}; fix the cause and deploy again.`;
  }
  const state = !o.attached
    ? `The disk ${diskCid} is NOT attached to the VM now`
    : !o.mounted
      ? `The disk ${diskCid} is attached but NOT mounted`
      : `The disk ${diskCid} is attached and mounted, but the containers were NOT started again`;
  return `${state} (putting it back failed${o.error ? `: ${o.error}` : ''}); its data is on it. Deploy again once the cause is fixed: the next deploy attaches and mounts it.`;
}
