/**
 * The instance's persistent disk: exists, has the planned size, is attached to the instance's VM
 * and mounted by its agent. Each check looks at the world (cloud's getDisks, agent's list_disk)
 * before acting, so repeating it after a crash is safe.
 */
import { detachIgnoringAbsent, unmountAndDetach } from '../disks/detach.js';
import type { DiskHint } from '../../common/contracts/disk-hint.js';
import type { DiskRecord } from '../../store/store.js';
import type { TaskContext } from '../tasks/task-context.js';
import { ensureDiskSize } from './disk-size.js';
import type { InstanceDeps, InstanceTarget } from './instance-deps.js';
import { withDeadline } from '../../common/waiting.js';
import { agentAfterDiskChange } from '../disks/agent-after-disk-change.js';
import type { ReadyVm } from './vm-steps.js';

export async function ensurePersistentDisk(deps: InstanceDeps, ctx: TaskContext, target: InstanceTarget, vm: ReadyVm): Promise<void> {
  const wanted = target.group.persistentDiskMiB;
  const active = await deps.store.disks.activeForInstance(target.record.id);
  if (wanted <= 0) {
    for (const d of active) await detachAndOrphan(deps, ctx, vm, d);
    // The spec is applied next (instance-updater.ts): a VM the CPI recreated on detach must answer first.
    if (active.length > 0) await agentAgain(deps, ctx, target, vm);
    return;
  }
  let disk = active[0];
  if (disk === undefined) {
    const cid = await deps.cloud.createDisk(wanted, target.group.diskCloudProperties ?? {}, vm.vmCid);
    disk = await deps.store.disks.create({ cid, sizeMiB: wanted, instanceId: target.record.id, deployment: target.record.deployment });
  }
  disk = await ensureDiskSize(deps, ctx, target, vm, disk, wanted);
  await attachAndMount(deps, ctx, target, vm, disk);
}

function agentAgain(deps: InstanceDeps, ctx: TaskContext, target: InstanceTarget, vm: ReadyVm): ReturnType<typeof agentAfterDiskChange> {
  return agentAfterDiskChange({
    agent: vm.agent,
    cloud: deps.cloud,
    vmCid: vm.vmCid,
    agentId: vm.agentId,
    instance: target.name,
    timeouts: deps.config,
    signal: ctx.signal,
    consoleLog: deps.consoleLog,
  });
}

/**
 * After every attach_disk/detach_disk the agent is waited for again (agent-after-disk-change.ts):
 * a CPI may recreate the VM to attach. The spec is applied after this step in any case
 * (instance-updater.ts), which also re-applies what a recreated VM lost.
 */
async function attachAndMount(deps: InstanceDeps, ctx: TaskContext, target: InstanceTarget, vm: ReadyVm, disk: DiskRecord): Promise<void> {
  const t = deps.config.agentCallTimeoutMs;
  const attached = await deps.cloud.getDisks(vm.vmCid);
  let hint: DiskHint | null = disk.hint;
  let mounted: string[] | null = null;
  if (!attached.includes(disk.cid)) {
    hint = await deps.cloud.attachDisk(vm.vmCid, disk.cid);
    await deps.store.disks.setHint(disk.cid, hint);
    mounted = (await agentAgain(deps, ctx, target, vm)).disks;
  }
  mounted ??= await withDeadline(t, 'list_disk', () => vm.agent.listDisk(), ctx.signal);
  if (mounted.includes(disk.cid)) return;
  if (hint === null) {
    // Attached (e.g. by createVm) but we never saw its hint, and not mounted: re-attach to learn where it is.
    await detachIgnoringAbsent(deps.cloud, vm.vmCid, disk.cid);
    await agentAgain(deps, ctx, target, vm);
    hint = await deps.cloud.attachDisk(vm.vmCid, disk.cid);
    await deps.store.disks.setHint(disk.cid, hint);
    await agentAgain(deps, ctx, target, vm);
  }
  // Only a disk never seen mounted may be formatted by the agent (when it has no filesystem).
  const request = { diskCid: disk.cid, hint, ...(disk.mountedBefore ? {} : { newDisk: true }) };
  await withDeadline(deps.config.applyTimeoutMs, `mount_disk of ${disk.cid}`, (signal) => vm.agent.mountDisk(request, { signal }), ctx.signal);
  await deps.store.disks.markMounted(disk.cid);
}

/**
 * A disk the instance no longer needs: stop the containers (they may run off it), unmount, detach,
 * and keep it as an orphan (never deleted here). A refused unmount stops the task with the agent's
 * error (it names what holds the store); the disk then stays mounted, attached and the instance's.
 */
export async function detachAndOrphan(deps: InstanceDeps, ctx: TaskContext, vm: ReadyVm | null, disk: DiskRecord): Promise<void> {
  if (vm !== null && (await deps.cloud.getDisks(vm.vmCid)).includes(disk.cid)) {
    const mounted = await withDeadline(deps.config.agentCallTimeoutMs, 'list_disk', () => vm.agent.listDisk(), ctx.signal);
    if (mounted.includes(disk.cid)) {
      ctx.logger.info('stopping the containers before the persistent disk is removed', { diskCid: disk.cid });
      await withDeadline(deps.config.applyTimeoutMs, 'drain', (signal) => vm.agent.drain({ signal }), ctx.signal);
      await withDeadline(deps.config.applyTimeoutMs, 'stop', (signal) => vm.agent.stop({ signal }), ctx.signal);
    }
    await unmountAndDetach(deps.cloud, vm.agent, { vmCid: vm.vmCid, name: `VM ${vm.vmCid}` }, disk.cid, deps.config.agentCallTimeoutMs);
  }
  await deps.store.disks.orphan(disk.cid);
}
