/**
 * Bringing one instance to its planned state, step by idempotent step:
 * (recreate: delete the old VM) → ensure VM + agent → ensure persistent disk → apply → start → watch.
 * Plus the check that lets unchanged instances be skipped, and the removal of unneeded instances.
 */
import { errorMessage } from '../../common/errors.js';
import type { AgentApi } from '../../common/contracts/agent-protocol.js';
import type { InstanceRecord } from '../../store/store.js';
import type { TaskContext } from '../tasks/task-context.js';
import { detachAndOrphan, ensurePersistentDisk } from './disk-steps.js';
import type { InstanceDeps, InstanceTarget } from './instance-deps.js';
import type { WatchTime } from './plan.js';
import { withTimeout } from './timeouts.js';
import { connectAgent, deleteInstanceVm, ensureVm } from './vm-steps.js';
import { watchInstance } from './watch.js';

/**
 * True when the instance needs nothing: same spec hash as recorded and as its agent reports, the
 * agent answers, and its persistent disk has the planned size and is mounted. No cloud call.
 */
export async function isUpToDate(deps: InstanceDeps, target: InstanceTarget): Promise<boolean> {
  const r = target.record;
  if (r.specHash !== target.spec.specHash) return false;
  const agent = connectAgent(deps, r);
  if (agent === null) return false;
  try {
    const state = await withTimeout(agent.getState(), deps.config.agentTimeoutMs, 'get_state timed out');
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

export async function updateInstance(deps: InstanceDeps, ctx: TaskContext, target: InstanceTarget, options: UpdateOptions): Promise<void> {
  if (options.recreate && target.record.vmCid !== null) {
    // Fencing: the disk moves to the new VM only after this deleteVm succeeded.
    await deleteInstanceVm(deps, ctx, target.record);
    target.record = { ...target.record, vmCid: null, agentId: null, ip: null };
    await ctx.checkCancelled();
  }
  const vm = await ensureVm(deps, ctx, target);
  await ctx.checkCancelled();
  await ensurePersistentDisk(deps, ctx, target, vm);
  await ctx.checkCancelled();
  await withTimeout(vm.agent.apply(target.spec), deps.config.applyTimeoutMs, `apply on ${target.name} timed out`);
  await deps.store.instances.setApplied(target.record.id, JSON.stringify(target.spec), target.spec.specHash);
  await ctx.checkCancelled();
  await converge(deps, target.record, vm.agent, target.name, options.watch);
}

/** Starts and watches a started instance; keeps a stopped one stopped. */
export async function converge(deps: InstanceDeps, record: InstanceRecord, agent: AgentApi, name: string, watch: WatchTime): Promise<void> {
  const t = deps.config.agentTimeoutMs;
  // stop and start wait for containers (stop timeouts, dependencies, image pulls): an apply's budget.
  if (record.desired === 'stopped') {
    await withTimeout(agent.stop(), deps.config.applyTimeoutMs, `stop on ${name} timed out`);
    await deps.store.instances.setJobState(record.id, 'stopped');
    return;
  }
  await withTimeout(agent.start(), deps.config.applyTimeoutMs, `start on ${name} timed out`);
  await watchInstance({ agent, instance: name, watch, pollIntervalMs: deps.config.watchPollIntervalMs, callTimeoutMs: t });
  await deps.store.instances.setJobState(record.id, 'running');
}

/** Deletes an instance that the manifest no longer has: its VM goes, its disks become orphans. */
export async function removeInstance(deps: InstanceDeps, ctx: TaskContext, record: InstanceRecord): Promise<void> {
  try {
    await deleteInstanceVm(deps, ctx, record);
  } catch (err) {
    throw new Error(`Deleting the VM ${record.vmCid ?? ''} of ${record.group}/${record.index} failed: ${errorMessage(err)}`, { cause: err });
  }
  for (const d of await deps.store.disks.activeForInstance(record.id)) await detachAndOrphan(deps, ctx, null, d);
  await deps.store.instances.delete(record.id);
}
