/** IPv4 addresses as 32-bit unsigned numbers, CIDR ranges and BOSH's "A - B" entries. */

export function ipToNumber(ip: string): number {
  const parts = ip.trim().split('.').map((p) => Number(p));
  return (((parts[0] ?? 0) << 24) | ((parts[1] ?? 0) << 16) | ((parts[2] ?? 0) << 8) | (parts[3] ?? 0)) >>> 0;
}

export function numberToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** First and last address of a range, both included. */
export interface IpInterval {
  first: number;
  last: number;
}

export interface Cidr extends IpInterval {
  /** "10.0.0.0/24" with the network address normalised. */
  cidr: string;
  netmask: string;
}

/** A CIDR the cloud config check accepted ("10.0.0.0/24"). */
export function parseCidr(text: string): Cidr {
  const [addr = '', bits = '32'] = text.trim().split('/');
  const prefix = Number(bits);
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  const first = (ipToNumber(addr) & mask) >>> 0;
  const last = (first | (~mask >>> 0)) >>> 0;
  return { cidr: `${numberToIp(first)}/${prefix}`, netmask: numberToIp(mask), first, last };
}

/** "10.0.0.5" or "10.0.0.5 - 10.0.0.9" (either order). */
export function parseIpRange(text: string): IpInterval {
  const [a = '', b = a] = text.split('-');
  const x = ipToNumber(a);
  const y = ipToNumber(b);
  return { first: Math.min(x, y), last: Math.max(x, y) };
}

export function inIntervals(n: number, intervals: readonly IpInterval[]): boolean {
  return intervals.some((i) => n >= i.first && n <= i.last);
}
