/**
 * Resizing an instance's persistent disk without losing data.
 *
 * Grow, when the cloud can (CloudInfo.supportsResizeDisk): stop → unmount → detach → resizeDisk →
 * attach → mount (the agent runs resize2fs) → start. No copy: the downtime does not grow with the data.
 *
 * Shrink, or a cloud without resizeDisk: new disk mounted at the migration target, bulk copy while
 * the containers still run, stop, delta copy + verify, swap the mounts, commit (one transaction:
 * new disk active, old disk orphaned), start, detach the old disk. The downtime is the delta.
 *
 * Failure before the commit rolls back: the old disk stays mounted at the store, the containers
 * run again on it, the new disk is detached and stays an orphan, and the error says which step
 * failed. The migration's state is persisted (disk-migrations.ts), so a re-run after a crash of the
 * director or the agent first finishes that rollback (or, after the commit, the old disk's detach).
 */
import type {
  AgentApi,
  MigrateDiskProgress,
  MigrateDiskRequest,
  MigrateDiskResult,
} from '../../common/contracts/agent-protocol.js';
import type { Cloud } from '../../cloud/cloud.js';
import type { DiskHint } from '../../common/contracts/disk-hint.js';
import { DiskNotAttachedError, NotSupportedError, VmNotFoundError } from '../../cloud/cloud.js';
import { BosunError, ConflictError, InternalError, errorMessage } from '../../common/errors.js';
import type { DiskRecord, Store } from '../../store/store.js';
import type { TaskContext } from '../tasks/task-context.js';
import { withTimeout } from '../deploy/timeouts.js';
import { DiskMigrations, type DiskMigrationRecord } from './disk-migrations.js';

const MiB = 1024 * 1024;

export interface DiskResizeDeps {
  cloud: Cloud;
  store: Store;
  config: {
    /** Quick agent calls (list_disk, get_state, unmount). */
    agentCallTimeoutMs: number;
    /** Slow agent calls: drain + stop, mount (may format or resize2fs), start. */
    applyTimeoutMs: number;
    /** One copy pass; default 6 h. */
    diskCopyTimeoutMs?: number;
  };
}

/** The instance whose disk is resized, on the VM it is on now. */
export interface DiskResizeTarget {
  instanceId: string;
  deployment: string;
  /** "group/index (id)" for messages and events. */
  name: string;
  /** Whether the containers should run after the resize (a stopped instance stays stopped). */
  desired: 'started' | 'stopped';
  vmCid: string;
  agent: AgentApi;
  diskCloudProperties: Record<string, unknown>;
}

/** Bytes of margin a copy needs on top of the data (same rule as the agent's checkFits). */
export function requiredMiBForData(usedBytes: number): number {
  return Math.ceil((Math.ceil(usedBytes * 1.05) + 64 * MiB) / MiB);
}

/**
 * Brings `disk` (the instance's active disk, attached or not) to `wantedMiB`. Returns the instance's
 * active disk afterwards (a new record after a copy). The containers run afterwards unless the
 * instance is stopped on purpose.
 */
export async function resizePersistentDisk(
  deps: DiskResizeDeps,
  ctx: TaskContext,
  target: DiskResizeTarget,
  disk: DiskRecord,
  wantedMiB: number,
): Promise<DiskRecord> {
  await recoverDiskMigration(deps, ctx, target);
  if (disk.sizeMiB === wantedMiB) return disk;
  const info = await deps.cloud.info();
  if (wantedMiB > disk.sizeMiB && info.supportsResizeDisk) {
    try {
      return await growInPlace(deps, ctx, target, disk, wantedMiB);
    } catch (err) {
      if (!(err instanceof NotSupportedError)) throw err;
      ctx.logger.info('the cloud cannot grow this disk in place; copying to a new disk instead', {
        disk: disk.cid,
      });
    }
  }
  return copyToNewDisk(deps, ctx, target, disk, wantedMiB);
}

/** A tiny step runner: numbered task events for one resize. */
class Steps {
  private index = 0;
  current = '';
  constructor(
    private readonly ctx: TaskContext,
    readonly stage: string,
    private readonly total: number,
  ) {}

  async run<T>(name: string, fn: () => Promise<T>): Promise<T> {
    this.index++;
    this.current = name;
    return this.ctx.step(this.stage, name, this.index, this.total, fn);
  }

  /** Copy progress as an in_progress event of the current step (ordered, never floating). */
  progressSink(): { report: (p: MigrateDiskProgress) => void; flush: () => Promise<void> } {
    let chain = Promise.resolve();
    const index = this.index;
    const step = this.current;
    return {
      report: (p) => {
        const pct = p.bytesTotal
          ? Math.min(100, Math.round((100 * p.bytesCopied) / p.bytesTotal))
          : undefined;
        const event = {
          stage: this.stage,
          step,
          index,
          total: this.total,
          state: 'in_progress' as const,
          data: {
            phase: p.phase,
            bytesCopied: p.bytesCopied,
            filesCopied: p.filesCopied,
            bytesTotal: p.bytesTotal,
            filesTotal: p.filesTotal,
          },
          ...(pct === undefined ? {} : { progress: pct }),
        };
        chain = chain.then(() => this.ctx.event(event)).catch(() => undefined);
      },
      flush: () => chain,
    };
  }
}

async function growInPlace(
  deps: DiskResizeDeps,
  ctx: TaskContext,
  t: DiskResizeTarget,
  disk: DiskRecord,
  wantedMiB: number,
): Promise<DiskRecord> {
  const { agent, vmCid } = t;
  const cfg = deps.config;
  const migrations = new DiskMigrations(deps.store.db);
  const steps = new Steps(
    ctx,
    `Growing persistent disk of ${t.name} from ${disk.sizeMiB} to ${wantedMiB} MiB`,
    7,
  );
  const attached = (await deps.cloud.getDisks(vmCid)).includes(disk.cid);
  let stopped = false;
  let detached = !attached;
  try {
    if (attached) {
      await steps.run('stop containers', async () => {
        await stopContainers(agent, cfg.applyTimeoutMs, t.name);
        stopped = true;
      });
      await steps.run('unmount disk', () =>
        withTimeout(agent.unmountDisk(disk.cid), cfg.applyTimeoutMs, `unmount_disk on ${t.name} timed out`),
      );
      await steps.run('detach disk', async () => {
        await detachIgnoringAbsent(deps.cloud, vmCid, disk.cid);
        detached = true;
      });
    }
    await steps.run('resize disk in the cloud', async () => {
      await deps.cloud.resizeDisk(disk.cid, wantedMiB);
      await migrations.setSize(disk.cid, wantedMiB);
    });
    const hint = await steps.run('attach disk', () => deps.cloud.attachDisk(vmCid, disk.cid));
    detached = false;
    await deps.store.disks.setHint(disk.cid, hint);
    await steps.run('mount disk and grow its filesystem', () =>
      withTimeout(
        agent.mountDisk({ diskCid: disk.cid, hint, target: 'store' }),
        cfg.applyTimeoutMs,
        `mount_disk on ${t.name} timed out`,
      ),
    );
    if (stopped && t.desired === 'started')
      await steps.run('start containers', () =>
        withTimeout(agent.start(), cfg.applyTimeoutMs, `start on ${t.name} timed out`),
      );
  } catch (err) {
    // Put the disk back where it was (same size or grown: either way the data is on it), then re-raise.
    await restoreAfterFailedGrow(deps, ctx, t, disk, { detached, stopped });
    if (err instanceof NotSupportedError) throw err;
    throw wrap(
      err,
      `Growing the persistent disk ${disk.cid} of ${t.name} from ${disk.sizeMiB} to ${wantedMiB} MiB failed at step "${steps.current}"`,
      'The disk was attached and mounted again and the containers restarted on it; fix the cause and deploy again.',
    );
  }
  const after = await deps.store.disks.get(disk.cid);
  return after ?? { ...disk, sizeMiB: wantedMiB };
}

async function restoreAfterFailedGrow(
  deps: DiskResizeDeps,
  ctx: TaskContext,
  t: DiskResizeTarget,
  disk: DiskRecord,
  state: { detached: boolean; stopped: boolean },
): Promise<void> {
  try {
    let hint = disk.hint;
    if (state.detached || !(await deps.cloud.getDisks(t.vmCid)).includes(disk.cid)) {
      hint = await deps.cloud.attachDisk(t.vmCid, disk.cid);
      await deps.store.disks.setHint(disk.cid, hint);
    }
    if (hint !== null)
      await withTimeout(
        t.agent.mountDisk({ diskCid: disk.cid, hint, target: 'store' }),
        deps.config.applyTimeoutMs,
        'mount_disk timed out',
      );
    if (state.stopped && t.desired === 'started')
      await withTimeout(t.agent.start(), deps.config.applyTimeoutMs, 'start timed out');
  } catch (err) {
    ctx.logger.error('could not restore the disk after a failed grow; the next deploy re-attaches it', {
      disk: disk.cid,
      error: errorMessage(err),
    });
  }
}

async function copyToNewDisk(
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
  const migrations = new DiskMigrations(deps.store.db);
  const steps = new Steps(
    ctx,
    `${wantedMiB < disk.sizeMiB ? 'Shrinking' : 'Resizing'} persistent disk of ${t.name} from ${disk.sizeMiB} to ${wantedMiB} MiB by copy`,
    12,
  );

  // The old disk must be mounted at the store (a fresh VM gets its disk only after this hook).
  await steps.run('check data size', async () => {
    await ensureMountedAtStore(deps, t, disk);
    const state = await withTimeout(
      agent.getState({ vitals: true }),
      cfg.agentCallTimeoutMs,
      `get_state on ${t.name} timed out`,
    );
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
  try {
    const newCid = await steps.run('create new disk', () =>
      deps.cloud.createDisk(wantedMiB, t.diskCloudProperties, vmCid),
    );
    record.newDiskCid = newCid;
    record.phase = 'copying';
    await migrations.recordNewDisk({ ...record, newDiskCid: newCid });
    newHint = await steps.run('attach new disk', () => deps.cloud.attachDisk(vmCid, newCid));
    const hint = newHint;
    await steps.run('mount new disk at the migration target', () =>
      withTimeout(
        agent.mountDisk({ diskCid: newCid, hint, target: 'migration' }),
        cfg.applyTimeoutMs,
        `mount_disk on ${t.name} timed out`,
      ),
    );
    const copyStarted = Date.now() - 2000;
    const bulk = await steps.run('copy data while the containers run', () =>
      runMigrate(steps, migrate, { phase: 'copy' }, copyTimeout, t.name),
    );
    ctx.logger.info('bulk copy done', { instance: t.name, ...bulk });
    // Catch up with what the containers wrote meanwhile, still running: the files changed since the
    // bulk copy started are compared by content here, so that the stopped window only has to
    // checksum what changes from now on. Repeated (at most 3 times) while a pass is still slow.
    let since = bulk.startedAtMs ?? copyStarted;
    await steps.run('copy changes while the containers run', async () => {
      for (let pass = 0; pass < 3; pass++) {
        const sync = await runMigrate(
          steps,
          migrate,
          { phase: 'sync', copyStartedAtMs: since },
          copyTimeout,
          t.name,
        );
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
      await stopContainers(agent, cfg.applyTimeoutMs, t.name);
    });
    const delta = await steps.run('copy changes and verify', () =>
      runMigrate(steps, migrate, { phase: 'delta', copyStartedAtMs: since }, copyTimeout, t.name),
    );
    ctx.logger.info('delta copy and verification done', { instance: t.name, ...delta });
    await steps.run('swap disks', async () => {
      try {
        // One agent call for the three mount operations keeps the stopped window short.
        await withTimeout(
          migrate({ phase: 'swap', oldDiskCid: disk.cid, newDiskCid: newCid }),
          cfg.applyTimeoutMs,
          `migrate_disk (swap) on ${t.name} timed out`,
        );
      } catch (err) {
        if (!(err instanceof BosunError && err.code === 'invalid_input')) throw err;
        // An agent without the swap phase: the same with the generic actions.
        await withTimeout(
          agent.unmountDisk(disk.cid),
          cfg.applyTimeoutMs,
          `unmount_disk on ${t.name} timed out`,
        );
        await withTimeout(
          agent.unmountDisk(newCid),
          cfg.applyTimeoutMs,
          `unmount_disk on ${t.name} timed out`,
        );
        await withTimeout(
          agent.mountDisk({ diskCid: newCid, hint, target: 'store' }),
          cfg.applyTimeoutMs,
          `mount_disk on ${t.name} timed out`,
        );
      }
      await migrations.commitSwap({ ...record, newDiskCid: newCid }, JSON.stringify(hint));
    });
  } catch (err) {
    const rolledBack = await rollBack(deps, ctx, t, record, stopped);
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
  if (t.desired === 'started')
    await steps.run('start containers', () =>
      withTimeout(agent.start(), cfg.applyTimeoutMs, `start on ${t.name} timed out`),
    );
  else await steps.run('start containers (instance is stopped: skipped)', async () => undefined);
  await steps.run('detach old disk (kept as an orphan)', async () => {
    await detachIgnoringAbsent(deps.cloud, vmCid, disk.cid);
    await migrations.forget(t.instanceId);
  });
  const after = await deps.store.disks.get(newCid);
  if (!after)
    throw new InternalError(
      `The new disk ${newCid} of ${t.name} is missing from the database after the swap; run cloud-check.`,
    );
  return after;
}

async function runMigrate(
  steps: Steps,
  migrate: NonNullable<AgentApi['migrateDisk']>,
  request: MigrateDiskRequest,
  timeoutMs: number,
  name: string,
): Promise<MigrateDiskResult> {
  const sink = steps.progressSink();
  try {
    return await withTimeout(
      migrate(request, { onProgress: sink.report }),
      timeoutMs,
      `migrate_disk (${request.phase}) on ${name} timed out after ${Math.round(timeoutMs / 1000)} s`,
    );
  } finally {
    await sink.flush();
  }
}

/**
 * Undoes an unfinished migration: the new disk unmounted and detached (it stays an orphan), the old
 * disk mounted at the store, the containers started again if they were stopped. Returns false (and
 * keeps the record for the next run) when a step failed.
 */
async function rollBack(
  deps: DiskResizeDeps,
  ctx: TaskContext,
  t: DiskResizeTarget,
  record: DiskMigrationRecord,
  restart: boolean,
): Promise<boolean> {
  const migrations = new DiskMigrations(deps.store.db);
  const t0 = deps.config.applyTimeoutMs;
  try {
    const newCid = record.newDiskCid;
    const sameVm = record.vmCid === t.vmCid;
    if (newCid !== null && sameVm)
      await withTimeout(t.agent.unmountDisk(newCid), t0, `unmount_disk on ${t.name} timed out`);
    if (newCid !== null) await detachIgnoringAbsent(deps.cloud, record.vmCid, newCid);
    const old = await deps.store.disks.get(record.oldDiskCid);
    if (sameVm && old) await ensureMountedAtStore(deps, t, old);
    await migrations.forget(record.instanceId);
    if (restart && t.desired === 'started')
      await withTimeout(t.agent.start(), t0, `start on ${t.name} timed out`);
    return true;
  } catch (err) {
    ctx.logger.error('rolling back a disk migration failed; the next run retries it', {
      instance: t.name,
      error: errorMessage(err),
    });
    return false;
  }
}

/**
 * Finishes what a crashed run left: an unfinished migration is rolled back (the old disk is still
 * the active one: the swap was never committed). Safe to call on every deploy of the instance.
 */
export async function recoverDiskMigration(
  deps: DiskResizeDeps,
  ctx: TaskContext,
  t: DiskResizeTarget,
): Promise<void> {
  const migrations = new DiskMigrations(deps.store.db);
  const record = await migrations.get(t.instanceId);
  if (record === null) return;
  if (record.phase === 'committed') {
    // The swap was committed: the containers may not have been started again yet (start is
    // idempotent), and the old disk (unmounted already) still has to be detached.
    if (record.vmCid === t.vmCid) {
      await withTimeout(
        t.agent.unmountDisk(record.oldDiskCid),
        deps.config.agentCallTimeoutMs,
        `unmount_disk on ${t.name} timed out`,
      );
      if (t.desired === 'started') {
        await withTimeout(t.agent.start(), deps.config.applyTimeoutMs, `start on ${t.name} timed out`);
      }
    }
    await detachIgnoringAbsent(deps.cloud, record.vmCid, record.oldDiskCid);
    await migrations.forget(t.instanceId);
    return;
  }
  await ctx.event({
    stage: 'Recovering an interrupted disk resize',
    step: t.name,
    index: 1,
    total: 1,
    state: 'started',
    data: { ...record },
  });
  if (!(await rollBack(deps, ctx, t, record, false))) {
    throw new ConflictError(
      `An earlier resize of the persistent disk of ${t.name} was interrupted and cannot be rolled back yet ` +
        `(old disk ${record.oldDiskCid}, new disk ${record.newDiskCid ?? 'not created'}); check that the VM's agent answers and deploy again.`,
    );
  }
  await ctx.event({
    stage: 'Recovering an interrupted disk resize',
    step: t.name,
    index: 1,
    total: 1,
    state: 'finished',
  });
}

async function ensureMountedAtStore(
  deps: DiskResizeDeps,
  t: DiskResizeTarget,
  disk: DiskRecord,
): Promise<void> {
  const mounted = await withTimeout(
    t.agent.listDisk(),
    deps.config.agentCallTimeoutMs,
    `list_disk on ${t.name} timed out`,
  );
  if (mounted.includes(disk.cid)) return;
  let hint = disk.hint;
  if (!(await deps.cloud.getDisks(t.vmCid)).includes(disk.cid) || hint === null) {
    await detachIgnoringAbsent(deps.cloud, t.vmCid, disk.cid);
    hint = await deps.cloud.attachDisk(t.vmCid, disk.cid);
    await deps.store.disks.setHint(disk.cid, hint);
  }
  await withTimeout(
    t.agent.mountDisk({ diskCid: disk.cid, hint, target: 'store' }),
    deps.config.applyTimeoutMs,
    `mount_disk on ${t.name} timed out`,
  );
}

async function stopContainers(agent: AgentApi, timeoutMs: number, name: string): Promise<void> {
  await withTimeout(agent.drain(), timeoutMs, `drain on ${name} timed out`);
  await withTimeout(agent.stop(), timeoutMs, `stop on ${name} timed out`);
}

async function detachIgnoringAbsent(cloud: Cloud, vmCid: string, diskCid: string): Promise<void> {
  try {
    await cloud.detachDisk(vmCid, diskCid);
  } catch (err) {
    if (!(err instanceof DiskNotAttachedError || err instanceof VmNotFoundError)) throw err;
  }
}

function wrap(err: unknown, what: string, after: string): Error {
  const message = `${what}: ${errorMessage(err)}. ${after}`;
  if (err instanceof BosunError)
    return new BosunError(err.code, err.httpStatus, message, { cause: err, details: err.details });
  return new InternalError(message, { cause: err });
}
