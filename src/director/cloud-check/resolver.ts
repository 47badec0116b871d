/**
 * Applies one cloud-check resolution. Every action is idempotent enough to be run again after a
 * failure (a VM already deleted, a disk already attached), so re-running cck converges.
 */
import type { Cloud } from '../../cloud/cloud.js';
import type { DiskHint } from '../../common/contracts/disk-hint.js';
import type { AgentConnector } from '../../common/contracts/agent-connector.js';
import { InternalError } from '../../common/errors.js';
import type { HealthStore, MonitoredDisk, MonitoredInstance, TaskStep } from '../health/ports.js';
import { pollUntil } from '../../common/waiting.js';
import { unmountAndDetach } from '../disks/detach.js';
import type { InstanceRecreator } from '../resurrector/instance-recreator.js';
import type { ScannedProblem } from './scanner.js';

export interface ResolverDeps {
  store: Pick<
    HealthStore,
    'listInstances' | 'setInstanceVm' | 'setDiskHint' | 'deleteDiskRecord' | 'activateDisk'
  >;
  cloud: Cloud;
  agents: AgentConnector;
  recreator: InstanceRecreator;
  timeouts: { vmDeleteTimeoutMs: number; agentWaitTimeoutMs: number };
  pollIntervalMs?: number | undefined;
}

export async function applyResolution(
  deps: ResolverDeps,
  p: ScannedProblem,
  resolution: string,
  log: (s: TaskStep) => void,
  signal?: AbortSignal,
): Promise<void> {
  if (resolution === 'ignore') return;
  const inst = p.instance ? await reload(deps, p.instance) : null;
  const poll = deps.pollIntervalMs ?? 200;

  const deleteVm = async (vmCid: string): Promise<void> => {
    await deps.cloud.deleteVm(vmCid);
    await pollUntil(async () => ((await deps.cloud.hasVm(vmCid)) ? undefined : true), {
      timeoutMs: deps.timeouts.vmDeleteTimeoutMs,
      intervalMs: poll,
      what: `The cloud still reports VM ${vmCid} as existing after deleting it`,
      signal,
    });
  };
  const agentOf = (i: MonitoredInstance) => {
    if (!i.vmCid || !i.agentId)
      throw new InternalError(`${i.group}/${i.index} has no VM any more; scan again.`);
    return deps.agents.connect({ agentId: i.agentId, vmCid: i.vmCid, ip: i.ip });
  };
  const waitForAgent = async (i: MonitoredInstance, after = 'the reboot'): Promise<void> => {
    const agent = agentOf(i);
    await pollUntil(async () => ((await agent.ping()) === 'pong' ? true : undefined), {
      timeoutMs: deps.timeouts.agentWaitTimeoutMs,
      intervalMs: poll,
      what: `The agent of ${i.group}/${i.index} did not answer after ${after}`,
      signal,
    });
  };
  const reattach = async (i: MonitoredInstance, d: MonitoredDisk): Promise<void> => {
    const vmCid = i.vmCid;
    if (!vmCid)
      throw new InternalError(
        `${i.group}/${i.index} has no VM to attach disk ${d.diskCid} to; recreate it first.`,
      );
    let hint: DiskHint | null = d.hint;
    if (!(await deps.cloud.getDisks(vmCid)).includes(d.diskCid) || hint === null) {
      hint = await deps.cloud.attachDisk(vmCid, d.diskCid);
      await deps.store.setDiskHint(d.diskCid, hint);
      // A CPI may recreate the VM to attach (bosh-docker-cpi): its agent must answer again first.
      await waitForAgent(i, `attaching disk ${d.diskCid}`);
    }
    const agent = agentOf(i);
    if (!(await agent.listDisk()).includes(d.diskCid)) await agent.mountDisk({ diskCid: d.diskCid, hint });
  };

  log({
    stage: 'Applying problem resolutions',
    step: `${p.problem.type} ${p.problem.instance ?? p.vmCid ?? ''}: ${resolution}`,
    state: 'started',
  });
  switch (resolution) {
    case 'recreate_vm':
      if (!inst) throw new InternalError('recreate_vm needs an instance');
      await deps.recreator.recreate(inst, log, signal);
      break;
    case 'reboot_vm':
      if (!inst?.vmCid) throw new InternalError('reboot_vm needs an instance with a VM');
      await deps.cloud.rebootVm(inst.vmCid);
      await waitForAgent(inst);
      break;
    case 'delete_vm':
      if (inst) {
        if (inst.vmCid) await deleteVm(inst.vmCid);
        await deps.store.setInstanceVm(inst.id, null);
      } else if (p.vmCid) {
        await deleteVm(p.vmCid);
      }
      break;
    case 'delete_vm_reference':
      if (inst) await deps.store.setInstanceVm(inst.id, null);
      break;
    case 'delete_disk_reference':
      if (p.disk) await deps.store.deleteDiskRecord(p.disk.diskCid);
      break;
    case 'reattach_disk':
    case 'reattach_disk_and_reboot': {
      if (!inst || !p.disk) throw new InternalError(`${resolution} needs an instance and a disk`);
      const disk = inst.disks.find((d) => d.diskCid === p.disk?.diskCid) ?? p.disk;
      await reattach(inst, disk);
      if (resolution === 'reattach_disk_and_reboot' && inst.vmCid) {
        await deps.cloud.rebootVm(inst.vmCid);
        await waitForAgent(inst);
        await reattach(inst, { ...disk, hint: null });
      }
      break;
    }
    case 'delete_disk': {
      if (!p.disk) throw new InternalError('delete_disk needs a disk');
      const vmCid = inst?.vmCid;
      if (vmCid && inst && (await deps.cloud.getDisks(vmCid)).includes(p.disk.diskCid)) {
        // Never from under a live VM: a refused unmount stops here, with the disk kept (src/director/disks/detach.ts).
        const target = { vmCid, name: `${inst.group}/${inst.index}` };
        await unmountAndDetach(deps.cloud, agentOf(inst), target, p.disk.diskCid, deps.timeouts.agentWaitTimeoutMs);
      }
      if (await deps.cloud.hasDisk(p.disk.diskCid)) await deps.cloud.deleteDisk(p.disk.diskCid);
      await deps.store.deleteDiskRecord(p.disk.diskCid);
      break;
    }
    case 'activate_disk':
      if (!inst || !p.disk) throw new InternalError('activate_disk needs an instance and a disk');
      await deps.store.activateDisk(p.disk.diskCid, inst.id);
      if (inst.vmCid) await reattach(inst, { ...p.disk, active: true });
      break;
    default:
      throw new InternalError(`unknown resolution ${resolution}`);
  }
  log({
    stage: 'Applying problem resolutions',
    step: `${p.problem.type} ${p.problem.instance ?? p.vmCid ?? ''}: ${resolution}`,
    state: 'finished',
  });
}

async function reload(deps: ResolverDeps, i: MonitoredInstance): Promise<MonitoredInstance> {
  return (await deps.store.listInstances(i.deployment)).find((x) => x.id === i.id) ?? i;
}
