/**
 * Resize by copy (a shrink, or a cloud without resizeDisk): new disk mounted at the migration
 * target, bulk copy while the containers still run, stop, delta copy + verify, swap the mounts,
 * commit (one transaction: new disk active, old disk orphaned), start, detach the old disk. The
 * downtime is the delta.
 *
 * Failure before the commit rolls back: the old disk stays mounted at the store, the containers
 * run again on it, the new disk is detached and stays an orphan, and the error says which step
 * failed. A copy pass the director gives up on (timeout, cancelled task) is cancelled on the agent
 * first, and the rollback starts only once the agent's task stopped; if the agent does not confirm
 * that, nothing is rolled back now (the next run does it, see resize-recovery.ts).
 */
import type { AgentApi, MigrateDiskRequest, MigrateDiskResult } from '../../common/contracts/agent-protocol.js';
import type { DiskHint } from '../../common/contracts/disk-hint.js';
import { requiredMiBForData } from '../../common/disk-margin.js';
import { BosunError, ConflictError, InternalError, errorMessage } from '../../common/errors.js';
import type { DiskMigrationRecord, DiskRecord } from '../../store/store.js';
import type { TaskContext } from '../tasks/task-context.js';
import { detachIgnoringAbsent, unmountAndDetach } from './detach.js';
import { isDirectoryHint } from './directory-disk.js';
import {
  AgentTaskStillRunningError,
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

const MiB = 1024 * 1024;

export async function copyToNewDisk(
  deps: DiskResizeDeps,
  ctx: TaskContext,
  t: DiskResizeTarget,
  disk: DiskRecord,
  wantedMiB: number,
): Promise<DiskRecord> {
  const { agent, vmCid } = t;
  const cfg = deps.config;
  const copyTimeout = cfg.diskCopyTimeoutMs ?? 6 * 3600_000;
  const migrate = agent.migrateDisk?.bind(agent);
  if (migrate === undefined) {
    throw new ConflictError(
      `Cannot resize the persistent disk of ${t.name} by copy: its agent does not support migrate_disk. Recreate the instance with a newer stemcell, or keep persistent_disk at ${disk.sizeMiB}.`,
    );
  }
  const migrations = deps.store.diskMigrations;
  const steps = new Steps(
    ctx,
    `${wantedMiB < disk.sizeMiB ? 'Shrinking' : 'Resizing'} persistent disk of ${t.name} from ${disk.sizeMiB} to ${wantedMiB} MiB by copy`,
    12,
  );
  const call = <T>(what: string, timeoutMs: number, work: (signal: AbortSignal) => Promise<T>): Promise<T> =>
    agentCall(deps, ctx, `${what} on ${t.name}`, timeoutMs, work);

  // The old disk must be mounted at the store (a fresh VM gets its disk only after this hook).
  await steps.run('check data size', async () => {
    if ((await ensureMountedAtStore(deps, ctx, t, disk)).specLost) await reapplyIfAgentLostSpec(deps, ctx, t, { specHash: null });
    // A directory disk's usage is its filesystem's (shared with other disks): the agent's migrate_disk
    // checks that the copy fits there instead.
    if (isDirectoryHint(disk.hint)) return;
    const state = await call('get_state', cfg.agentCallTimeoutMs, () => agent.getState({ vitals: true }));
    const used = state.vitals?.disk.persistent?.usedBytes;
    if (used !== undefined && requiredMiBForData(used) > wantedMiB) {
      throw new ConflictError(
        `Cannot shrink the persistent disk of ${t.name} to ${wantedMiB} MiB: its data uses ${Math.ceil(used / MiB)} MiB and needs ` +
          `at least ${requiredMiBForData(used)} MiB with margin. Set persistent_disk to ${requiredMiBForData(used)} or more, or delete data first. Nothing was changed.`,
      );
    }
  });

  const record: DiskMigrationRecord = {
    instanceId: t.instanceId,
    deployment: t.deployment,
    vmCid,
    oldDiskCid: disk.cid,
    newDiskCid: null,
    newSizeMiB: wantedMiB,
    phase: 'creating',
    copyStartedAtMs: null,
    startedAt: new Date().toISOString(),
  };
  await migrations.save(record);
  let stopped = false;
  let newHint: DiskHint | null = null;
  const runPass = (request: MigrateDiskRequest): Promise<MigrateDiskResult> =>
    runMigrate(deps, ctx, steps, migrate, request, copyTimeout, t.name);
  try {
    const newCid = await steps.run('create new disk', () => deps.cloud.createDisk(wantedMiB, t.diskCloudProperties, vmCid));
    record.newDiskCid = newCid;
    record.phase = 'copying';
    await migrations.recordNewDisk({ ...record, newDiskCid: newCid });
    newHint = await steps.run('attach new disk', async () => {
      const h = await deps.cloud.attachDisk(vmCid, newCid);
      // A CPI may recreate the VM to attach: the old disk is then unmounted and nothing runs.
      const state = await agentAgain(deps, ctx, t);
      if (!state.disks.includes(disk.cid)) await ensureMountedAtStore(deps, ctx, t, (await deps.store.disks.get(disk.cid)) ?? disk);
      await reapplyIfAgentLostSpec(deps, ctx, t, state);
      return h;
    });
    const hint = newHint;
    await steps.run('mount new disk at the migration target', async () => {
      // The director just created it: the agent may format it.
      await call('mount_disk', cfg.applyTimeoutMs, (signal) =>
        agent.mountDisk({ diskCid: newCid, hint, target: 'migration', newDisk: true }, { signal }),
      );
      await deps.store.disks.markMounted(newCid);
    });
    const copyStarted = Date.now() - 2000;
    const bulk = await steps.run('copy data while the containers run', () => runPass({ phase: 'copy' }));
    ctx.logger.info('bulk copy done', { instance: t.name, ...bulk });
    // Catch up with what the containers wrote meanwhile, still running: the files changed since the
    // bulk copy started are compared by content here, so that the stopped window only has to
    // checksum what changes from now on. Repeated (at most 3 times) while a pass is still slow.
    let since = bulk.startedAtMs ?? copyStarted;
    await steps.run('copy changes while the containers run', async () => {
      for (let pass = 0; pass < 3; pass++) {
        const sync = await runPass({ phase: 'sync', copyStartedAtMs: since });
        since = sync.startedAtMs ?? since;
        if (sync.durationMs < 2000) break;
      }
    });
    record.copyStartedAtMs = since;
    await migrations.save(record);
    await steps.run('stop containers', async () => {
      record.phase = 'stopped';
      await migrations.save(record);
      stopped = true;
      await stopContainers(deps, ctx, t);
    });
    const delta = await steps.run('copy changes and verify', () => runPass({ phase: 'delta', copyStartedAtMs: since }));
    ctx.logger.info('delta copy and verification done', { instance: t.name, ...delta });
    await steps.run('swap disks', async () => {
      try {
        // One agent call for the three mount operations keeps the stopped window short.
        await call('migrate_disk (swap)', cfg.applyTimeoutMs, (signal) =>
          migrate({ phase: 'swap', oldDiskCid: disk.cid, newDiskCid: newCid }, { signal }),
        );
      } catch (err) {
        if (!(err instanceof BosunError && err.code === 'invalid_input')) throw err;
        // An agent without the swap phase: the same with the generic actions.
        await call('unmount_disk', cfg.applyTimeoutMs, (signal) => agent.unmountDisk(disk.cid, { signal }));
        await call('unmount_disk', cfg.applyTimeoutMs, (signal) => agent.unmountDisk(newCid, { signal }));
        await call('mount_disk', cfg.applyTimeoutMs, (signal) => agent.mountDisk({ diskCid: newCid, hint, target: 'store' }, { signal }));
      }
      await migrations.commitSwap({ ...record, newDiskCid: newCid }, JSON.stringify(hint));
    });
  } catch (err) {
    if (err instanceof AgentTaskStillRunningError) {
      // Rolling back now could race the copy still running on the agent.
      throw wrap(
        err,
        `Resizing the persistent disk of ${t.name} from ${disk.sizeMiB} to ${wantedMiB} MiB failed at step "${steps.current}"`,
        `Nothing was rolled back yet, so that nothing races the agent's copy. The old disk ${disk.cid} stays authoritative; deploy again once the agent answers: the next run rolls back first.`,
      );
    }
    const rolledBack = await rollBack(deps, ignoringCancel(ctx), t, record, stopped);
    throw wrap(
      err,
      `Resizing the persistent disk of ${t.name} from ${disk.sizeMiB} to ${wantedMiB} MiB failed at step "${steps.current}"`,
      rolledBack
        ? `The old disk ${disk.cid} is still the instance's disk and the containers run on it` +
            (record.newDiskCid
              ? `; the new disk ${record.newDiskCid} was detached and kept as an orphan (bosun disks --orphaned).`
              : '.') +
            ' Fix the cause and deploy again.'
        : `Rolling back did not finish either (the agent may be down); deploy again: the next run finishes the rollback first, and the old disk ${disk.cid} stays authoritative.`,
    );
  }
  const newCid = record.newDiskCid;
  // Committed: the new disk holds the data from here on; what follows is not rolled back.
  if (t.desired === 'started') await steps.run('start containers', () => startContainers(deps, ctx, t));
  else await steps.run('start containers (instance is stopped: skipped)', async () => undefined);
  await steps.run('detach old disk (kept as an orphan)', async () => {
    // Unmounted by the swap; unmounting again is a no-op, and it must be before a detach.
    await unmountAndDetach(deps.cloud, agent, t, disk.cid, cfg.agentCallTimeoutMs);
    await settleAfterDetach(deps, ctx, t, newCid);
    await migrations.forget(t.instanceId);
  });
  const after = await deps.store.disks.get(newCid);
  if (!after)
    throw new InternalError(`The new disk ${newCid} of ${t.name} is missing from the database after the swap; run cloud-check.`);
  return after;
}

/**
 * After a detach: waits for the agent (the CPI may have recreated the VM); the instance's disk is
 * mounted at the store again and its spec re-applied if the agent lost them.
 */
async function settleAfterDetach(deps: DiskResizeDeps, ctx: TaskContext, t: DiskResizeTarget, storeDiskCid: string): Promise<void> {
  const state = await agentAgain(deps, ctx, t);
  const storeDisk = await deps.store.disks.get(storeDiskCid);
  if (storeDisk && !state.disks.includes(storeDiskCid)) await ensureMountedAtStore(deps, ctx, t, storeDisk);
  await reapplyIfAgentLostSpec(deps, ctx, t, state);
}

async function runMigrate(
  deps: DiskResizeDeps,
  ctx: TaskContext,
  steps: Steps,
  migrate: NonNullable<AgentApi['migrateDisk']>,
  request: MigrateDiskRequest,
  timeoutMs: number,
  name: string,
): Promise<MigrateDiskResult> {
  const sink = steps.progressSink();
  try {
    return await agentCall(deps, ctx, `migrate_disk (${request.phase}) on ${name}`, timeoutMs, (signal) =>
      migrate(request, { signal, onProgress: sink.report }),
    );
  } finally {
    await sink.flush();
  }
}

/**
 * Undoes an unfinished migration: the new disk unmounted and detached (it stays an orphan), the old
 * disk mounted at the store, the containers started again if they were stopped. Returns false (and
 * keeps the record for the next run) when a step failed. A new disk the agent does not unmount is
 * not detached (it would stay mounted on a live VM).
 */
export async function rollBack(
  deps: DiskResizeDeps,
  ctx: TaskContext,
  t: DiskResizeTarget,
  record: DiskMigrationRecord,
  restart: boolean,
): Promise<boolean> {
  try {
    const newCid = record.newDiskCid;
    const sameVm = record.vmCid === t.vmCid;
    if (newCid !== null && sameVm) await unmountAndDetach(deps.cloud, t.agent, t, newCid, deps.config.applyTimeoutMs);
    else if (newCid !== null) await detachIgnoringAbsent(deps.cloud, record.vmCid, newCid);
    const old = await deps.store.disks.get(record.oldDiskCid);
    if (sameVm && newCid !== null) await settleAfterDetach(deps, ctx, t, record.oldDiskCid);
    else if (sameVm && old) await ensureMountedAtStore(deps, ctx, t, old);
    await deps.store.diskMigrations.forget(record.instanceId);
    if (restart && t.desired === 'started') await startContainers(deps, ctx, t);
    return true;
  } catch (err) {
    ctx.logger.error('rolling back a disk migration failed; the next run retries it', {
      instance: t.name,
      error: errorMessage(err),
    });
    return false;
  }
}
