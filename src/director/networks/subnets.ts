/**
 * A manual network's subnets as the allocator sees them: the range with its network address,
 * broadcast and gateway (never given to a VM), the `reserved` ranges (never given), the `static`
 * ranges (only for a group's static_ips) and the AZs each subnet serves.
 */
import type { VmNetwork } from '../../cloud/cloud.js';
import type { CloudConfig, CloudNetwork } from '../../manifest/cloud-config.js';
import { inIntervals, ipToNumber, numberToIp, parseCidr, parseIpRange, type Cidr, type IpInterval } from './ipv4.js';

export interface ManualSubnet {
  range: Cidr;
  gateway: string;
  gatewayNumber: number;
  dns: string[];
  reserved: IpInterval[];
  static: IpInterval[];
  /** Empty: the subnet serves every AZ (and instances without one). */
  azs: string[];
  cloudProperties: Record<string, unknown>;
}

export function manualNetwork(config: CloudConfig, name: string): CloudNetwork | undefined {
  const n = (config.networks ?? []).find((x) => x.name === name);
  return n !== undefined && (n.type ?? 'manual') === 'manual' ? n : undefined;
}

export function subnetsOf(network: CloudNetwork): ManualSubnet[] {
  return (network.subnets ?? []).flatMap((s) => {
    if (s.range === undefined || s.gateway === undefined) return [];
    return [
      {
        range: parseCidr(s.range),
        gateway: s.gateway.trim(),
        gatewayNumber: ipToNumber(s.gateway),
        dns: s.dns ?? [],
        reserved: (s.reserved ?? []).map(parseIpRange),
        static: (s.static ?? []).map(parseIpRange),
        azs: s.azs ?? (s.az === undefined ? [] : [s.az]),
        cloudProperties: s.cloud_properties ?? {},
      },
    ];
  });
}

/** The subnets an instance in `az` may get an address from (az null: every subnet). */
export function subnetsForAz(subnets: readonly ManualSubnet[], az: string | null): ManualSubnet[] {
  return az === null ? [...subnets] : subnets.filter((s) => s.azs.length === 0 || s.azs.includes(az));
}

/** An address no VM may get: outside the range, the network address, the broadcast, the gateway or reserved. */
export function isUnusable(s: ManualSubnet, n: number): boolean {
  return n <= s.range.first || n >= s.range.last || n === s.gatewayNumber || inIntervals(n, s.reserved);
}

export function isStatic(s: ManualSubnet, n: number): boolean {
  return !isUnusable(s, n) && inIntervals(n, s.static);
}

/** Addresses the director may allocate to instances without static IPs, lowest first. */
export function* dynamicAddresses(s: ManualSubnet): Generator<number> {
  for (let n = s.range.first + 1; n < s.range.last; n++) if (!isUnusable(s, n) && !inIntervals(n, s.static)) yield n;
}

/** The settings a VM gets on this subnet with `ip`. */
export function manualSettings(s: ManualSubnet, ip: number, defaults: readonly string[]): VmNetwork {
  return {
    type: 'manual',
    ip: numberToIp(ip),
    netmask: s.range.netmask,
    gateway: s.gateway,
    ...(s.dns.length === 0 ? {} : { dns: s.dns }),
    ...(defaults.length === 0 ? {} : { default: [...defaults] }),
    ...(Object.keys(s.cloudProperties).length === 0 ? {} : { cloudProperties: s.cloudProperties }),
  };
}

export function subnetLabel(s: ManualSubnet): string {
  return `subnet ${s.range.cidr}${s.azs.length === 0 ? '' : ` (azs ${s.azs.join(', ')})`}`;
}
