/**
 * The one place that records which VM an instance runs on: the `vms` row (so a crash after
 * createVm finds the VM, and the guarded cloud knows it) and the instance's VM columns, written
 * together. Deploy, recreate, the resurrector and cloud-check all record through it.
 */
import type { DiskHint } from '../../common/contracts/disk-hint.js';
import type { Store } from '../../store/store.js';

export interface InstanceVm {
  vmCid: string;
  agentId: string;
  ip: string | null;
}

export interface VmRecords {
  /** Records the instance's VM now; null: it has none (its old VM row goes too). */
  setInstanceVm(instanceId: string, vm: InstanceVm | null): Promise<void>;
  /** Where the cloud attached a disk (null: not attached, or not known). */
  setDiskHint(diskCid: string, hint: DiskHint | null): Promise<void>;
}

export function storeVmRecords(store: Store): VmRecords {
  return {
    async setInstanceVm(instanceId, vm) {
      const r = await store.instances.get(instanceId);
      if (r?.vmCid != null && r.vmCid !== vm?.vmCid) await store.vms.delete(r.vmCid);
      if (vm !== null && (await store.vms.get(vm.vmCid)) === undefined) {
        await store.vms.create({ cid: vm.vmCid, agentId: vm.agentId, instanceId, ip: vm.ip });
      }
      await store.instances.setVm(instanceId, vm);
    },
    setDiskHint(diskCid, hint) {
      return store.disks.setHint(diskCid, hint);
    },
  };
}
