/**
 * A group's networks as its VMs' createVm request carries them before addresses are filled in:
 * BOSH's type, `default` (with one network it is the default) and, for dynamic networks, the
 * network's dns and cloud_properties. Manual networks get their address, netmask, gateway, dns
 * and the subnet's cloud_properties from the instance's reservation (address-plan.ts); without a
 * cloud config every network is "the cloud chooses", as before cloud configs.
 */
import type { VmNetworks } from '../../cloud/cloud.js';
import type { CloudConfig } from '../../manifest/cloud-config.js';

export interface NetworkRef {
  name: string;
  staticIps: string[];
  default: string[];
}

export function groupVmNetworks(refs: readonly NetworkRef[], config: CloudConfig | null | undefined): VmNetworks {
  const out: VmNetworks = {};
  if (refs.length === 0) return { default: { ip: '', netmask: '' } };
  for (const ref of refs) {
    const defaults = ref.default.length > 0 ? ref.default : refs.length === 1 ? ['dns', 'gateway'] : [];
    const withDefault = defaults.length === 0 ? {} : { default: defaults };
    if (config == null) {
      out[ref.name] = { ip: '', netmask: '' };
      continue;
    }
    const n = config.networks?.find((x) => x.name === ref.name);
    if (n === undefined || (n.type ?? 'manual') === 'manual') {
      out[ref.name] = { ip: '', netmask: '', ...withDefault };
    } else if (n.type === 'dynamic') {
      out[ref.name] = {
        ip: '',
        netmask: '',
        type: 'dynamic',
        ...(n.dns === undefined ? {} : { dns: n.dns }),
        ...withDefault,
        ...(n.cloud_properties === undefined ? {} : { cloudProperties: n.cloud_properties }),
      };
    } else {
      out[ref.name] = { ip: '', netmask: '', type: 'vip', ...withDefault };
    }
  }
  return out;
}
