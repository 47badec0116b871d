/**
 * delete-deployment: every VM deleted, every disk orphaned (never deleted: `bosun disks --orphaned`
 * lists them and deleteDisk removes one for good), then the deployment forgotten. With `force`,
 * failures to delete a VM are logged and skipped instead of stopping the task.
 */
import { errorMessage } from '../../common/errors.js';
import { instanceName } from '../deploy/instance-deps.js';
import type { InstanceDeps } from '../deploy/instance-deps.js';
import { removeInstance } from '../deploy/instance-updater.js';
import type { TaskContext } from '../tasks/task-context.js';

export async function deleteDeployment(deps: InstanceDeps, ctx: TaskContext, name: string, force: boolean): Promise<string> {
  const instances = await deps.store.instances.listByDeployment(name);
  const skipped: string[] = [];
  for (const [i, r] of instances.entries()) {
    try {
      await ctx.step('Deleting instances', instanceName(r), i + 1, instances.length, () => removeInstance(deps, ctx, r));
    } catch (err) {
      if (!force) throw err;
      skipped.push(`${instanceName(r)}: ${errorMessage(err)}`);
      for (const d of await deps.store.disks.activeForInstance(r.id)) await deps.store.disks.orphan(d.cid);
      if (r.vmCid !== null) await deps.store.vms.delete(r.vmCid);
      await deps.store.instances.delete(r.id);
    }
  }
  for (const d of await deps.store.disks.list({ deployment: name, orphaned: false })) await deps.store.disks.orphan(d.cid);
  await deps.store.deployments.delete(name);
  return JSON.stringify({ deployment: name, deletedInstances: instances.length, forcedPast: skipped });
}
