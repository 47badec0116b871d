/**
 * The one place that records which VM an instance runs on: the `vms` row (so a crash after
 * createVm finds the VM, and the guarded cloud knows it), the instance's VM columns and the
 * stemcell the VM booted (vm_stemcells for "in use by", the instance's stemcell for the next
 * deploy's comparison and for replacement VMs), written together. Deploy, recreate, the
 * resurrector and cloud-check all record through it.
 */
import type { VmNetworks } from '../../cloud/cloud.js';
import type { DiskHint } from '../../common/contracts/disk-hint.js';
import type { Store } from '../../store/store.js';

export interface InstanceVm {
  vmCid: string;
  agentId: string;
  ip: string | null;
}

/** A VM just created, with the cloud's cid of the stemcell it booted. */
export interface CreatedVm extends InstanceVm {
  stemcellCid?: string | undefined;
  /** The cloud properties it was created with (a deploy compares them with the cloud config's). */
  cloudProperties?: Record<string, unknown> | undefined;
  /** The networks it was created with (a deploy compares them with the instance's addresses). */
  networks?: VmNetworks | undefined;
}

export interface VmRecords {
  /** Records the instance's VM now; null: it has none (its old VM row goes too). */
  setInstanceVm(instanceId: string, vm: CreatedVm | null): Promise<void>;
  /** The address the VM's agent told (its cloud gave none): recorded only while none is. */
  learnIp(instanceId: string, vmCid: string, ip: string): Promise<void>;
  /** Where the cloud attached a disk (null: not attached, or not known). */
  setDiskHint(diskCid: string, hint: DiskHint | null): Promise<void>;
}

export function storeVmRecords(store: Store): VmRecords {
  return {
    async setInstanceVm(instanceId, vm) {
      const r = await store.instances.get(instanceId);
      if (r?.vmCid != null && r.vmCid !== vm?.vmCid) {
        await store.vms.delete(r.vmCid);
        await store.stemcells.forgetVm(r.vmCid);
      }
      if (vm !== null && (await store.vms.get(vm.vmCid)) === undefined) {
        await store.vms.create({ cid: vm.vmCid, agentId: vm.agentId, instanceId, ip: vm.ip });
      }
      await store.instances.setVm(instanceId, vm === null ? null : { vmCid: vm.vmCid, agentId: vm.agentId, ip: vm.ip });
      const stemcell = vm?.stemcellCid === undefined ? undefined : (await store.stemcells.list()).find((s) => s.cid === vm.stemcellCid);
      if (vm?.cloudProperties !== undefined) await store.instances.setCloudProperties(instanceId, vm.cloudProperties);
      if (vm?.networks !== undefined) await store.instances.setNetworks(instanceId, vm.networks);
      if (vm !== null && stemcell !== undefined) {
        await store.stemcells.setVmStemcell(vm.vmCid, stemcell.cid);
        await store.instances.setStemcell(instanceId, { name: stemcell.name, version: stemcell.version });
      }
    },
    async learnIp(instanceId, vmCid, ip) {
      if (await store.instances.learnIp(instanceId, vmCid, ip)) await store.vms.learnIp(vmCid, ip);
    },
    setDiskHint(diskCid, hint) {
      return store.disks.setHint(diskCid, hint);
    },
  };
}
