/**
 * IP allocation from the cloud config's manual networks, as BOSH's director does it, as a pure
 * function of the plan and of the addresses already held: for each instance and each manual
 * network of its group, the subnet is chosen by the instance's AZ; a group with `static_ips`
 * gets exactly those (validated: one per instance, inside a static range of a subnet of its AZs,
 * not held by another instance), each instance keeping the one it has; every other instance
 * keeps its address while it stays valid, else gets the lowest free address outside the static
 * and reserved ranges (never the network address, broadcast or gateway).
 */
import type { VmNetwork } from '../../cloud/cloud.js';
import type { CloudConfig } from '../../manifest/cloud-config.js';
import { inIntervals, ipToNumber, numberToIp } from './ipv4.js';
import { dynamicAddresses, isStatic, isUnusable, manualNetwork, manualSettings, subnetLabel, subnetsForAz, subnetsOf, type ManualSubnet } from './subnets.js';

export interface AllocInstance {
  id: string;
  index: number;
  az: string | null;
}

export interface AllocNetworkRef {
  name: string;
  staticIps: string[];
  /** The manifest's `default:` ([dns, gateway]); with one network it is the default. */
  default: string[];
}

export interface AllocGroup {
  name: string;
  /** The group's azs (static IPs must lie in a subnet of one of them). */
  azs: string[];
  instances: AllocInstance[];
  networks: AllocNetworkRef[];
}

/** An address someone holds now. */
export interface HeldAddress {
  network: string;
  address: string;
  instanceId: string;
  static: boolean;
  /** "web/0 of deployment other", for messages. */
  owner: string;
}

export interface AllocatedAddress {
  network: string;
  address: string;
  static: boolean;
  settings: VmNetwork;
}

export interface AllocationResult {
  /** Per instance id: its addresses, one per manual network of its group. */
  byInstance: Map<string, AllocatedAddress[]>;
  /** One sentence per problem, naming group and network; nothing may change when there is one. */
  problems: string[];
}

const key = (network: string, address: string): string => `${network} ${address}`;

export function allocateAddresses(config: CloudConfig, groups: readonly AllocGroup[], held: readonly HeldAddress[]): AllocationResult {
  const byInstance = new Map<string, AllocatedAddress[]>();
  const problems: string[] = [];
  const holder = new Map(held.map((h) => [key(h.network, h.address), h]));
  /** Given out in this run. */
  const given = new Set<string>();
  const add = (instanceId: string, a: AllocatedAddress): void => {
    given.add(key(a.network, a.address));
    byInstance.set(instanceId, [...(byInstance.get(instanceId) ?? []), a]);
  };
  // Static ones first: dynamic allocation never uses static ranges, so the order only matters
  // for the messages, which then name the static problems of every group.
  const dynamic: Array<() => void> = [];
  for (const g of groups) {
    for (const ref of g.networks) {
      const network = manualNetwork(config, ref.name);
      if (network === undefined) continue;
      const subnets = subnetsOf(network);
      const defaults = ref.default.length > 0 ? ref.default : g.networks.length === 1 ? ['dns', 'gateway'] : [];
      const where = `instance group "${g.name}", network "${ref.name}"`;
      if (ref.staticIps.length > 0) {
        allocateStatic(g, ref, subnets, defaults, where, holder, given, add, problems);
      } else {
        dynamic.push(() => {
          for (const [i, inst] of g.instances.entries()) {
            if (allocateDynamic(g, inst, ref.name, subnets, defaults, where, holder, given, add, problems)) continue;
            const more = g.instances.length - i - 1;
            // One sentence per network: the instances after the first that found none find none either.
            if (more > 0) problems[problems.length - 1] += ` (${more} more instance(s) of the group need an address too)`;
            break;
          }
        });
      }
    }
  }
  for (const run of dynamic) run();
  return { byInstance, problems };
}

function allocateStatic(
  g: AllocGroup,
  ref: AllocNetworkRef,
  subnets: ManualSubnet[],
  defaults: string[],
  where: string,
  holder: Map<string, HeldAddress>,
  given: Set<string>,
  add: (instanceId: string, a: AllocatedAddress) => void,
  problems: string[],
): void {
  const before = problems.length;
  const ids = new Set(g.instances.map((i) => i.id));
  if (ref.staticIps.length !== g.instances.length) {
    problems.push(
      `${where}: ${ref.staticIps.length} static_ips for ${g.instances.length} instance(s); give exactly one static IP per instance (or none, and the director allocates them)`,
    );
  }
  const groupSubnets = g.azs.length === 0 ? subnets : subnets.filter((s) => s.azs.length === 0 || s.azs.some((a) => g.azs.includes(a)));
  const staticRanges = (list: ManualSubnet[]): string =>
    list.filter((s) => s.static.length > 0).map((s) => `${subnetLabel(s)}: static ${s.static.map((r) => (r.first === r.last ? numberToIp(r.first) : `${numberToIp(r.first)} - ${numberToIp(r.last)}`)).join(', ')}`).join('; ') || 'none of its subnets has a static range';
  const subnetOf = new Map<string, ManualSubnet>();
  const seen = new Set<string>();
  for (const ip of ref.staticIps) {
    const address = ip.trim();
    if (seen.has(address)) {
      problems.push(`${where}: static IP ${address} is listed twice`);
      continue;
    }
    seen.add(address);
    const n = ipToNumber(address);
    const subnet = groupSubnets.find((s) => isStatic(s, n));
    if (subnet === undefined) {
      const elsewhere = subnets.find((s) => isStatic(s, n));
      problems.push(
        elsewhere === undefined
          ? `${where}: static IP ${address} is not in the static range of any of the network's subnets${g.azs.length === 0 ? '' : ` for the group's azs (${g.azs.join(', ')})`} (${staticRanges(groupSubnets)}); add it to a subnet's static range in the cloud config, or choose one inside it`
          : `${where}: static IP ${address} lies in ${subnetLabel(elsewhere)}, which serves none of the group's azs (${g.azs.join(', ')})`,
      );
      continue;
    }
    if (given.has(key(ref.name, address))) {
      problems.push(`${where}: static IP ${address} is listed by another instance group of this deployment too; give each address to one group`);
      continue;
    }
    const h = holder.get(key(ref.name, address));
    if (h !== undefined && !ids.has(h.instanceId)) {
      problems.push(`${where}: static IP ${address} is already used by instance ${h.owner}; remove it there first or choose another`);
      continue;
    }
    subnetOf.set(address, subnet);
  }
  if (problems.length > before) return;
  const fits = (inst: AllocInstance, address: string): boolean => {
    const s = subnetOf.get(address);
    return s !== undefined && (inst.az === null || s.azs.length === 0 || s.azs.includes(inst.az));
  };
  const taken = new Set<string>();
  const assigned = new Map<string, string>();
  // Stable: an instance keeps the static IP it has while the manifest still lists it.
  for (const inst of g.instances) {
    const current = [...subnetOf.keys()].find((a) => holder.get(key(ref.name, a))?.instanceId === inst.id);
    if (current !== undefined && fits(inst, current)) {
      assigned.set(inst.id, current);
      taken.add(current);
    }
  }
  for (const inst of g.instances) {
    if (assigned.has(inst.id)) continue;
    const next = [...subnetOf.keys()].find((a) => !taken.has(a) && !given.has(key(ref.name, a)) && fits(inst, a));
    if (next === undefined) {
      problems.push(`${where}: no static IP is left for ${g.name}/${inst.index} in az ${inst.az ?? '(none)'}; list one in a subnet of that az (${staticRanges(subnetsForAz(subnets, inst.az))})`);
      continue;
    }
    assigned.set(inst.id, next);
    taken.add(next);
  }
  for (const inst of g.instances) {
    const address = assigned.get(inst.id);
    const subnet = address === undefined ? undefined : subnetOf.get(address);
    if (address === undefined || subnet === undefined) continue;
    add(inst.id, { network: ref.name, address, static: true, settings: manualSettings(subnet, ipToNumber(address), defaults) });
  }
}

function allocateDynamic(
  g: AllocGroup,
  inst: AllocInstance,
  network: string,
  subnets: ManualSubnet[],
  defaults: string[],
  where: string,
  holder: Map<string, HeldAddress>,
  given: Set<string>,
  add: (instanceId: string, a: AllocatedAddress) => void,
  problems: string[],
): boolean {
  const mine = subnetsForAz(subnets, inst.az);
  const free = (n: number): boolean => {
    const k = key(network, numberToIp(n));
    const h = holder.get(k);
    return !given.has(k) && (h === undefined || h.instanceId === inst.id);
  };
  // Stable: the address it holds, while it is still a dynamic address of a subnet of its AZ.
  for (const h of holder.values()) {
    if (h.instanceId !== inst.id || h.network !== network || h.static) continue;
    const n = ipToNumber(h.address);
    const subnet = mine.find((s) => !isUnusable(s, n) && !inIntervals(n, s.static));
    if (subnet !== undefined && free(n)) {
      add(inst.id, { network, address: h.address, static: false, settings: manualSettings(subnet, n, defaults) });
      return true;
    }
  }
  for (const s of mine) {
    for (const n of dynamicAddresses(s)) {
      if (!free(n)) continue;
      add(inst.id, { network, address: numberToIp(n), static: false, settings: manualSettings(s, n, defaults) });
      return true;
    }
  }
  const az = inst.az === null ? '' : ` in az ${inst.az}`;
  if (mine.length === 0) {
    problems.push(`${where}: no subnet serves az ${inst.az ?? '(none)'} of ${g.name}/${inst.index}; add that az to a subnet's azs in the cloud config`);
    return false;
  }
  const counts = mine.map((s) => {
    let total = 0;
    let used = 0;
    for (const n of dynamicAddresses(s)) {
      total++;
      if (!free(n)) used++;
    }
    return `${subnetLabel(s)} has ${total} address(es) outside its reserved and static ranges, ${used} in use`;
  });
  problems.push(`${where}: no free address for ${g.name}/${inst.index}${az}: ${counts.join('; ')}; widen the range, shrink reserved or static, or scale down`);
  return false;
}
