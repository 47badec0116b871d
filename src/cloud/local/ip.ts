import { InvalidInputError } from '../../common/errors.js';

/** An IPv4 subnet, with the addresses as 32-bit unsigned numbers. */
export interface Subnet {
  cidr: string;
  network: number;
  prefixLength: number;
  netmask: string;
  /** The bridge's (host's) address: the first usable one. */
  gateway: string;
  /** First and last address a VM may get. */
  firstVm: number;
  lastVm: number;
}

export function ipToNumber(ip: string): number {
  const parts = ip.split('.').map((p) => Number(p));
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) {
    throw new InvalidInputError(`"${ip}" is not an IPv4 address.`);
  }
  return (((parts[0] ?? 0) << 24) | ((parts[1] ?? 0) << 16) | ((parts[2] ?? 0) << 8) | (parts[3] ?? 0)) >>> 0;
}

export function numberToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export function parseSubnet(cidr: string): Subnet {
  const m = /^(\d+\.\d+\.\d+\.\d+)\/(\d{1,2})$/.exec(cidr);
  const prefixLength = Number(m?.[2]);
  if (!m || prefixLength < 8 || prefixLength > 29) {
    throw new InvalidInputError(
      `The subnet "${cidr}" is not an IPv4 CIDR between /8 and /29, e.g. 10.244.0.0/16.`,
    );
  }
  const mask = prefixLength === 0 ? 0 : (0xffffffff << (32 - prefixLength)) >>> 0;
  const network = (ipToNumber(m[1] ?? '') & mask) >>> 0;
  const broadcast = (network | (~mask >>> 0)) >>> 0;
  return {
    cidr: `${numberToIp(network)}/${prefixLength}`,
    network,
    prefixLength,
    netmask: numberToIp(mask),
    gateway: numberToIp(network + 1),
    firstVm: network + 2,
    lastVm: broadcast - 1,
  };
}
