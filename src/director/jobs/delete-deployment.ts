/**
 * delete-deployment: every VM deleted, every disk orphaned (never deleted: `bosun disks --orphaned`
 * lists them and deleteDisk removes one for good), then the deployment forgotten.
 *
 * With `force`, an instance that fails to be deleted does not stop the others. Fencing still
 * holds: an instance whose VM may still exist keeps its VM and disk records (the disks stay
 * attached to it and are not orphaned, so nothing can attach or sweep them), the deployment stays
 * with resurrection turned off for it, and the task fails naming what is left and how to finish.
 */
import { ConflictError, errorMessage } from '../../common/errors.js';
import type { InstanceRecord } from '../../store/store.js';
import { instanceName } from '../deploy/instance-deps.js';
import type { InstanceDeps } from '../deploy/instance-deps.js';
import { removeInstance } from '../deploy/instance-updater.js';
import type { TaskContext } from '../tasks/task-context.js';

interface LeftInstance {
  instance: string;
  vmCid: string | null;
  diskCids: string[];
  error: string;
}

export async function deleteDeployment(deps: InstanceDeps, ctx: TaskContext, name: string, force: boolean): Promise<string> {
  const instances = await deps.store.instances.listByDeployment(name);
  const left: LeftInstance[] = [];
  for (const [i, r] of instances.entries()) {
    try {
      await ctx.step('Deleting instances', instanceName(r), i + 1, instances.length, () => removeInstance(deps, ctx, r));
    } catch (err) {
      if (!force) throw err;
      const remaining = await forgetIfVmGone(deps, r);
      if (remaining !== null) left.push({ ...remaining, error: errorMessage(err) });
    }
  }
  if (left.length > 0) {
    // The deployment stays (its remaining instances belong to it), but nothing recreates them.
    await deps.store.deployments.setResurrection(name, false);
    await ctx.event({ stage: 'Deleting instances', step: `${left.length} instance(s) left`, index: 1, total: 1, state: 'failed', data: { left } });
    throw new ConflictError(leftMessage(name, left), { details: { left } });
  }
  for (const d of await deps.store.disks.list({ deployment: name, orphaned: false })) await deps.store.disks.orphan(d.cid);
  await deps.store.ipReservations.releaseDeployment(name);
  await deps.store.deployments.delete(name);
  return JSON.stringify({ deployment: name, deletedInstances: instances.length });
}

/**
 * After a failed removal: when the cloud confirms the VM is gone, the instance is forgotten and its
 * disks orphaned as usual; otherwise (VM still there, or the cloud cannot tell) everything stays
 * recorded and this returns what is left.
 */
async function forgetIfVmGone(deps: InstanceDeps, before: InstanceRecord): Promise<Omit<LeftInstance, 'error'> | null> {
  const r = (await deps.store.instances.get(before.id)) ?? before;
  const disks = await deps.store.disks.activeForInstance(r.id);
  let vmGone = r.vmCid === null;
  if (!vmGone && r.vmCid !== null) vmGone = await deps.cloud.hasVm(r.vmCid).then((has) => !has, () => false);
  if (!vmGone) return { instance: `${r.group}/${r.index}`, vmCid: r.vmCid, diskCids: disks.map((d) => d.cid) };
  for (const d of disks) await deps.store.disks.orphan(d.cid);
  if (r.vmCid !== null) {
    await deps.store.vms.delete(r.vmCid);
    await deps.store.stemcells.forgetVm(r.vmCid);
  }
  await deps.store.ipReservations.releaseInstance(r.id);
  await deps.store.instances.delete(r.id);
  return null;
}

function leftMessage(name: string, left: LeftInstance[]): string {
  const lines = left.map(
    (l) =>
      `${l.instance}: VM ${l.vmCid ?? '(none)'} could not be deleted (${l.error}); ` +
      (l.diskCids.length > 0 ? `its disk(s) ${l.diskCids.join(', ')} stay attached to it and recorded.` : 'it has no persistent disk.'),
  );
  return [
    `Deployment "${name}" was not deleted completely: ${left.length} instance(s) are left, everything else is gone.`,
    ...lines,
    `Resurrection is off for "${name}" so that nothing recreates them. Fix the cause (or delete the VM in the cloud), then run "bosun -d ${name} delete-deployment" again to finish.`,
  ].join('\n');
}
