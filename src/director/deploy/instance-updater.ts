/**
 * Bringing one instance to its planned state, step by idempotent step:
 * (recreate: replace the VM, keeping its disks) → ensure VM + agent → ensure persistent disk →
 * apply → start → watch. Plus the check that lets unchanged instances be skipped, and the
 * removal of unneeded instances.
 */
import { errorMessage } from '../../common/errors.js';
import type { AgentApi } from '../../common/contracts/agent-protocol.js';
import { withDeadline } from '../../common/waiting.js';
import type { InstanceRecord } from '../../store/store.js';
import type { TaskContext } from '../tasks/task-context.js';
import { applySpec, converge, type ConvergeTimeouts } from './converge.js';
import { detachAndOrphan, ensurePersistentDisk } from './disk-steps.js';
import type { InstanceDeps, InstanceTarget } from './instance-deps.js';
import type { WatchTime } from './plan.js';
import { connectAgent, deleteInstanceVm, ensureVm, recreateVm } from './vm-steps.js';

/**
 * True when the instance needs nothing: same spec hash as recorded and as its agent reports, the
 * same stemcell, the agent answers, and its persistent disk has the planned size and is mounted.
 * No cloud call.
 */
export async function isUpToDate(deps: InstanceDeps, target: InstanceTarget): Promise<boolean> {
  const r = target.record;
  if (r.specHash !== target.spec.specHash || target.stemcell.changed || target.placementChanged === true || target.addressChanged === true) return false;
  const agent = connectAgent(deps, r);
  if (agent === null) return false;
  try {
    const state = await withDeadline(deps.config.agentCallTimeoutMs, `get_state of ${target.name}`, () => agent.getState());
    if (state.specHash !== target.spec.specHash) return false;
    if (r.desired === 'stopped' ? !state.stopped : state.stopped) return false;
    const disks = await deps.store.disks.activeForInstance(r.id);
    if (target.group.persistentDiskMiB <= 0) return disks.length === 0;
    const disk = disks[0];
    return disks.length === 1 && disk !== undefined && disk.sizeMiB === target.group.persistentDiskMiB && state.disks.includes(disk.cid);
  } catch {
    return false;
  }
}

export interface UpdateOptions {
  recreate: boolean;
  watch: WatchTime;
}

export function convergeTimeouts(deps: Pick<InstanceDeps, 'config'>): ConvergeTimeouts {
  return { applyTimeoutMs: deps.config.applyTimeoutMs, agentCallTimeoutMs: deps.config.agentCallTimeoutMs, watchPollIntervalMs: deps.config.watchPollIntervalMs };
}

export async function updateInstance(deps: InstanceDeps, ctx: TaskContext, target: InstanceTarget, options: UpdateOptions): Promise<void> {
  // Fencing: on recreate the disks move to the new VM only after the old one's deleteVm succeeded.
  // A new stemcell takes the same path: the VM is replaced, its disks kept.
  const replace = (options.recreate || target.stemcell.changed || target.placementChanged === true || target.addressChanged === true) && target.record.vmCid !== null;
  const vm = replace ? await recreateVm(deps, ctx, target) : await ensureVm(deps, ctx, target);
  await ctx.checkCancelled();
  await ensurePersistentDisk(deps, ctx, target, vm);
  await ctx.checkCancelled();
  await applySpec(vm.agent, { name: target.name, desired: target.record.desired }, target.spec, convergeTimeouts(deps), ctx.signal);
  await deps.store.instances.setApplied(target.record.id, JSON.stringify(target.spec), target.spec.specHash);
  await ctx.checkCancelled();
  await convergeInstance(deps, ctx, target.record, vm.agent, target.name, options.watch);
}

/** Starts and watches a started instance; keeps a stopped one stopped; records the job state reached. */
export async function convergeInstance(deps: InstanceDeps, ctx: TaskContext, record: InstanceRecord, agent: AgentApi, name: string, watch: WatchTime): Promise<void> {
  const state = await converge(agent, { name, desired: record.desired }, watch, convergeTimeouts(deps), ctx.signal);
  await deps.store.instances.setJobState(record.id, state);
}

/** Deletes an instance that the manifest no longer has: its VM goes, its disks become orphans. */
export async function removeInstance(deps: InstanceDeps, ctx: TaskContext, record: InstanceRecord): Promise<void> {
  try {
    await deleteInstanceVm(deps, ctx, record);
  } catch (err) {
    throw new Error(`Deleting the VM ${record.vmCid ?? ''} of ${record.group}/${record.index} failed: ${errorMessage(err)}`, { cause: err });
  }
  for (const d of await deps.store.disks.activeForInstance(record.id)) await detachAndOrphan(deps, ctx, null, d);
  // Its addresses are free for any deployment from now on.
  await deps.store.ipReservations.releaseInstance(record.id);
  await deps.store.instances.delete(record.id);
}
