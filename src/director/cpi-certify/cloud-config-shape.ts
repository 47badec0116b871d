/**
 * `cpi-certify --cloud-config FILE`: the VMs and the disk of the certification are made as a
 * deployment on that cloud config would make them — the first AZ's and the first vm_type's
 * cloud_properties (merged in BOSH's order), the first disk_type's size and cloud_properties, and
 * the first network that is not a vip: a manual network gives each VM an address of its first
 * subnet (lowest first, reserved and static ranges skipped, as the director allocates them), with
 * its netmask, gateway, dns and cloud_properties; a dynamic network leaves the address to the CPI.
 */
import type { VmNetworks } from '../../cloud/cloud.js';
import { InvalidInputError } from '../../common/errors.js';
import { mergeCloudProperties } from '../../manifest/cloud-config-resolve.js';
import type { CloudConfig } from '../../manifest/cloud-config.js';
import { dynamicAddresses, manualSettings, subnetLabel, subnetsForAz, subnetsOf } from '../networks/subnets.js';

export interface CertifyShape {
  vmCloudProperties: Record<string, unknown>;
  diskCloudProperties: Record<string, unknown>;
  diskMiB?: number;
  /** The networks of the certification's VM number `index` (0, 1). */
  networks(index: number): VmNetworks;
}

type Obj = Record<string, unknown>;
const props = (e: { cloud_properties?: Obj | undefined } | undefined): Obj => e?.cloud_properties ?? {};

export function certifyShapeFrom(config: CloudConfig, vmCount = 2): CertifyShape {
  const az = config.azs?.[0];
  const vmCloudProperties = mergeCloudProperties(props(az), props(config.vm_types?.[0]));
  const diskType = config.disk_types?.[0];
  const network = (config.networks ?? []).find((n) => n.type !== 'vip');
  const shape = (networks: (index: number) => VmNetworks): CertifyShape => ({
    vmCloudProperties,
    diskCloudProperties: props(diskType),
    ...(diskType?.disk_size === undefined ? {} : { diskMiB: Number(diskType.disk_size) }),
    networks,
  });
  if (network === undefined) return shape(() => ({ default: { type: 'dynamic', ip: '', netmask: '' } }));
  if (network.type === 'dynamic') {
    return shape(() => ({
      [network.name]: { type: 'dynamic', ip: '', netmask: '', ...(network.dns === undefined ? {} : { dns: network.dns }), cloudProperties: props(network), default: ['dns', 'gateway'] },
    }));
  }
  const subnet = subnetsForAz(subnetsOf(network), az?.name ?? null)[0];
  if (subnet === undefined) {
    throw new InvalidInputError(`The cloud config's network "${network.name}" has no subnet${az === undefined ? '' : ` for az "${az.name}"`} to take the certification's VM addresses from; add one (range, gateway).`);
  }
  const addresses: number[] = [];
  for (const n of dynamicAddresses(subnet)) {
    addresses.push(n);
    if (addresses.length === vmCount) break;
  }
  if (addresses.length < vmCount) {
    throw new InvalidInputError(`The cloud config's network "${network.name}" (${subnetLabel(subnet)}) has fewer than ${vmCount} addresses outside its reserved and static ranges; the certification needs ${vmCount}.`);
  }
  return shape((index) => ({ [network.name]: manualSettings(subnet, addresses[index] ?? addresses[0]!, ['dns', 'gateway']) }));
}
