/**
 * What the three parts of a persistent-disk resize share (grow-in-place.ts, resize-by-copy.ts,
 * resize-recovery.ts): their dependencies and target, numbered task events, agent calls that stop
 * the agent's work when the director gives up on them, and the error wrapping.
 */
import type { AgentApi, MigrateDiskProgress } from '../../common/contracts/agent-protocol.js';
import type { Cloud } from '../../cloud/cloud.js';
import { BosunError, InternalError, errorMessage } from '../../common/errors.js';
import { Deadline, abortReason, sleep } from '../../common/waiting.js';
import type { DiskRecord, Store } from '../../store/store.js';
import type { TaskContext } from '../tasks/task-context.js';
import { detachIgnoringAbsent } from './detach.js';
import type { AgentState } from '../../common/contracts/agent-protocol.js';
import type { InstanceSpec } from '../../common/contracts/instance-spec.js';
import { agentAfterDiskChange, reapplyIfLost } from './agent-after-disk-change.js';

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
    /** How long to wait for an agent task to stop once the director gave up on it; default 60 s. */
    agentStopGraceMs?: number;
    /** How long the agent may take to answer again after attach/detach (a CPI may recreate the VM); default 120 s. */
    agentWaitTimeoutMs?: number;
    agentPingIntervalMs?: number;
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
  /** For messages when the agent does not answer again after a disk change. */
  agentId?: string | null;
  /** The instance's applied spec: re-applied when the cloud recreated the VM on attach/detach. */
  spec?: InstanceSpec;
}

/** A tiny step runner: numbered task events for one resize. */
export class Steps {
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
        const pct = p.bytesTotal ? Math.min(100, Math.round((100 * p.bytesCopied) / p.bytesTotal)) : undefined;
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

/** The director gave up on an agent action and its task did not confirm that it stopped. */
export class AgentTaskStillRunningError extends BosunError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('timeout', 504, message, options);
  }
}

/**
 * Runs an agent action with a deadline. When the director gives up on it (the deadline passes or
 * the task is cancelled), the action's signal aborts — the agent is told to cancel its task — and
 * this waits until the call settled, i.e. until the agent's task stopped: whatever runs next (a
 * rollback) never races the agent's work. When the task does not confirm within the grace period,
 * AgentTaskStillRunningError says so (a caller must not roll back then).
 */
export async function agentCall<T>(
  deps: DiskResizeDeps,
  ctx: TaskContext,
  what: string,
  timeoutMs: number,
  work: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const cancel = watchTaskCancel(ctx);
  const deadline = new Deadline(timeoutMs, what, cancel.signal);
  const call = work(deadline.signal);
  try {
    return await Promise.race([
      call,
      new Promise<never>((_, reject) => {
        deadline.signal.addEventListener('abort', () => reject(abortReason(deadline.signal)), { once: true });
      }),
    ]);
  } catch (err) {
    if (!deadline.signal.aborted) throw err;
    const graceMs = deps.config.agentStopGraceMs ?? 60_000;
    const stopped = await Promise.race([
      call.then(
        () => true,
        () => true,
      ),
      sleep(graceMs).then(() => false),
    ]);
    const reason = abortReason(deadline.signal);
    if (!stopped) {
      throw new AgentTaskStillRunningError(
        `${errorMessage(reason)}; the agent was asked to cancel it but did not confirm within ${Math.round(graceMs / 1000)} s that it stopped`,
        { cause: reason },
      );
    }
    throw reason;
  } finally {
    deadline.dispose();
    cancel.dispose();
  }
}

/**
 * An AbortSignal that aborts when the director task is cancelled or lost its lock: the task's own
 * signal where the context has one, and checkCancelled every second for any context.
 */
function watchTaskCancel(ctx: TaskContext): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const onTaskAbort = (): void => controller.abort(abortReason(ctx.signal));
  if (ctx.signal?.aborted) onTaskAbort();
  else ctx.signal?.addEventListener('abort', onTaskAbort, { once: true });
  const timer = setInterval(() => {
    ctx.checkCancelled().catch((err: unknown) => controller.abort(err));
  }, 1000);
  timer.unref();
  return {
    signal: controller.signal,
    dispose: () => {
      clearInterval(timer);
      ctx.signal?.removeEventListener('abort', onTaskAbort);
    },
  };
}

/**
 * The context for putting things back after a failure (rollback, restore after a failed grow): a
 * cancel of the task, or a lost lock, must not cut the way back to a safe state short. Its agent
 * calls keep their own deadlines.
 */
export function ignoringCancel(ctx: TaskContext): TaskContext {
  return {
    taskId: ctx.taskId,
    user: ctx.user,
    logger: ctx.logger,
    event: (e) => ctx.event(e),
    step: (stage, step, index, total, fn) => ctx.step(stage, step, index, total, fn),
    checkCancelled: async () => undefined,
  };
}

export async function stopContainers(deps: DiskResizeDeps, ctx: TaskContext, t: DiskResizeTarget): Promise<void> {
  const ms = deps.config.applyTimeoutMs;
  await agentCall(deps, ctx, `drain on ${t.name}`, ms, (signal) => t.agent.drain({ signal }));
  await agentCall(deps, ctx, `stop on ${t.name}`, ms, (signal) => t.agent.stop({ signal }));
}

export async function startContainers(deps: DiskResizeDeps, ctx: TaskContext, t: DiskResizeTarget): Promise<void> {
  await agentCall(deps, ctx, `start on ${t.name}`, deps.config.applyTimeoutMs, (signal) => t.agent.start({ signal }));
}

/**
 * After attach_disk/detach_disk: waits until the agent answers again (a CPI may recreate the VM to
 * attach or detach) and returns what it has (agent-after-disk-change.ts).
 */
export async function agentAgain(deps: DiskResizeDeps, ctx: TaskContext, t: DiskResizeTarget): Promise<Pick<AgentState, 'specHash' | 'disks' | 'stopped'>> {
  return agentAfterDiskChange({
    agent: t.agent,
    cloud: deps.cloud,
    vmCid: t.vmCid,
    agentId: t.agentId ?? null,
    instance: t.name,
    timeouts: {
      agentCallTimeoutMs: deps.config.agentCallTimeoutMs,
      agentWaitTimeoutMs: deps.config.agentWaitTimeoutMs ?? 120_000,
      agentPingIntervalMs: deps.config.agentPingIntervalMs ?? 500,
    },
    signal: ctx.signal,
  });
}

/** Re-applies the instance's spec when the agent came back without it (the VM was recreated). */
export async function reapplyIfAgentLostSpec(deps: DiskResizeDeps, ctx: TaskContext, t: DiskResizeTarget, state: Pick<AgentState, 'specHash'>): Promise<boolean> {
  return reapplyIfLost(t.agent, state, { name: t.name, desired: t.desired, spec: t.spec }, deps.config.applyTimeoutMs, ctx.logger, ctx.signal);
}

/**
 * Ensures `disk` is attached to the target's VM and mounted at its store. Returns true when it
 * attached it (the agent was waited for again afterwards) and the agent had lost its spec.
 */
export async function ensureMountedAtStore(
  deps: DiskResizeDeps,
  ctx: TaskContext,
  t: DiskResizeTarget,
  disk: DiskRecord,
): Promise<{ specLost: boolean }> {
  const mounted = await agentCall(deps, ctx, `list_disk on ${t.name}`, deps.config.agentCallTimeoutMs, () => t.agent.listDisk());
  if (mounted.includes(disk.cid)) return { specLost: false };
  let hint = disk.hint;
  let specLost = false;
  if (!(await deps.cloud.getDisks(t.vmCid)).includes(disk.cid) || hint === null) {
    // Not mounted (the agent says so): detaching to learn the hint again is safe.
    await detachIgnoringAbsent(deps.cloud, t.vmCid, disk.cid);
    hint = await deps.cloud.attachDisk(t.vmCid, disk.cid);
    await deps.store.disks.setHint(disk.cid, hint);
    specLost = (await agentAgain(deps, ctx, t)).specHash === null;
  }
  const request = { diskCid: disk.cid, hint, target: 'store' as const, ...(disk.mountedBefore ? {} : { newDisk: true }) };
  await agentCall(deps, ctx, `mount_disk on ${t.name}`, deps.config.applyTimeoutMs, (signal) => t.agent.mountDisk(request, { signal }));
  await deps.store.disks.markMounted(disk.cid);
  return { specLost };
}

export function wrap(err: unknown, what: string, after: string): Error {
  const message = `${what}: ${errorMessage(err)}. ${after}`;
  if (err instanceof BosunError) return new BosunError(err.code, err.httpStatus, message, { cause: err, details: err.details });
  return new InternalError(message, { cause: err });
}
