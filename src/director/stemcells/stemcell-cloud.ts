/**
 * Turns the stemcell a VM is asked for into the cloud's stemcell cid, in one place for every
 * caller of createVm (deployer, resurrector): the director config's `stemcell` may name an
 * uploaded stemcell (`latest`, `latest:OS`, `NAME/VERSION`) instead of a cid, and each VM's
 * stemcell is recorded so that `bosun stemcells` can say which VMs boot it and delete-stemcell can
 * refuse while they do. `default` (the config's default) passes through: the local cloud then
 * boots the VM on the host's own binaries.
 */
import type { Cloud, CreateVmRequest, CreateVmResult } from '../../cloud/cloud.js';
import type { Store } from '../../store/store.js';
import type { StemcellService } from './stemcell-service.js';
import { STEMCELL_OS } from '../../stemcell/stemcell-contents.js';

export async function resolveStemcellName(name: string, store: Store, stemcells: StemcellService): Promise<string | null> {
  if (name === 'default') return null;
  if (name === 'latest' || name.startsWith('latest:')) {
    const os = name === 'latest' ? STEMCELL_OS : name.slice('latest:'.length);
    return (await stemcells.resolve(os, 'latest')).cid;
  }
  const slash = name.lastIndexOf('/');
  if (slash > 0) {
    const s = await store.stemcells.get(name.slice(0, slash), name.slice(slash + 1));
    if (s) return s.cid;
  }
  const byCid = (await store.stemcells.list()).find((s) => s.cid === name);
  return byCid ? byCid.cid : null;
}

export function stemcellResolvingCloud(cloud: Cloud, store: Store, stemcells: () => StemcellService): Cloud {
  return new Proxy(cloud, {
    get(target, prop, receiver) {
      if (prop === 'createVm') {
        return async (request: CreateVmRequest): Promise<CreateVmResult> => {
          const cid = await resolveStemcellName(request.stemcell, store, stemcells());
          const result = await target.createVm(cid === null ? request : { ...request, stemcell: cid });
          if (cid !== null) await store.stemcells.setVmStemcell(result.vmCid, cid);
          return result;
        };
      }
      if (prop === 'deleteVm') {
        return async (vmCid: string): Promise<void> => {
          await target.deleteVm(vmCid);
          await store.stemcells.forgetVm(vmCid);
        };
      }
      const value: unknown = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}
