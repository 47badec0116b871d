/**
 * Crash recovery of a resize by copy: what a crashed run (director or agent) left is finished
 * before anything else touches the instance's disk. Before the commit the old disk is still the
 * active one, so the migration is rolled back; after it, only the old disk's detach is left.
 * Safe to call on every deploy of the instance.
 */
import { ConflictError } from '../../common/errors.js';
import type { TaskContext } from '../tasks/task-context.js';
import { unmountAndDetach, detachIgnoringAbsent } from './detach.js';
import { rollBack } from './resize-by-copy.js';
import { startContainers, type DiskResizeDeps, type DiskResizeTarget } from './resize-steps.js';

export async function recoverDiskMigration(deps: DiskResizeDeps, ctx: TaskContext, t: DiskResizeTarget): Promise<void> {
  const migrations = deps.store.diskMigrations;
  const record = await migrations.get(t.instanceId);
  if (record === null) return;
  if (record.phase === 'committed') {
    // The swap was committed: the containers may not have been started again yet (start is
    // idempotent), and the old disk (unmounted already) still has to be detached.
    if (record.vmCid === t.vmCid) {
      await unmountAndDetach(deps.cloud, t.agent, t, record.oldDiskCid, deps.config.agentCallTimeoutMs);
      if (t.desired === 'started') await startContainers(deps, ctx, t);
    } else {
      await detachIgnoringAbsent(deps.cloud, record.vmCid, record.oldDiskCid);
    }
    await migrations.forget(t.instanceId);
    return;
  }
  const stage = 'Recovering an interrupted disk resize';
  await ctx.event({ stage, step: t.name, index: 1, total: 1, state: 'started', data: { ...record } });
  if (!(await rollBack(deps, ctx, t, record, false))) {
    throw new ConflictError(
      `An earlier resize of the persistent disk of ${t.name} was interrupted and cannot be rolled back yet ` +
        `(old disk ${record.oldDiskCid}, new disk ${record.newDiskCid ?? 'not created'}); check that the VM's agent answers and deploy again.`,
    );
  }
  await ctx.event({ stage, step: t.name, index: 1, total: 1, state: 'finished' });
}
