/**
 * The deployer's hook for persistent-disk resize: called whenever an instance's disk exists (before
 * it is attached and mounted). A no-op when the size matches and no interrupted resize is pending;
 * otherwise grows in place or copies to a new disk (src/director/disks/disk-resize.ts).
 */
import type { DiskRecord } from '../../store/store.js';
import type { TaskContext } from '../tasks/task-context.js';
import { recoverDiskMigration, resizePersistentDisk, type DiskResizeTarget } from '../disks/disk-resize.js';
import type { InstanceDeps, InstanceTarget } from './instance-deps.js';
import type { ReadyVm } from './vm-steps.js';

export async function ensureDiskSize(
  deps: InstanceDeps,
  ctx: TaskContext,
  target: InstanceTarget,
  vm: ReadyVm,
  disk: DiskRecord,
  wantedMiB: number,
): Promise<DiskRecord> {
  const resizeTarget: DiskResizeTarget = {
    instanceId: target.record.id,
    deployment: target.record.deployment,
    name: target.name,
    desired: target.record.desired,
    vmCid: vm.vmCid,
    agent: vm.agent,
    diskCloudProperties: target.group.diskCloudProperties ?? {},
    agentId: vm.agentId,
    spec: target.spec,
  };
  if (disk.sizeMiB === wantedMiB) {
    await recoverDiskMigration(deps, ctx, resizeTarget);
    return (await deps.store.disks.activeForInstance(target.record.id))[0] ?? disk;
  }
  return resizePersistentDisk(deps, ctx, resizeTarget, disk, wantedMiB);
}
