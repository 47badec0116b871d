/**
 * The VM's own address, for a dynamic network whose settings carry no `ip` (the cloud's DHCP chose
 * it, as bosh-docker-cpi's networks do): the IPv4 address of the interface the default route
 * leaves by, as BOSH's agent finds it. A VM with no default route (the local cloud's VMs have only
 * their subnet route) falls back to its only non-loopback IPv4 address.
 */
import { readFile } from 'node:fs/promises';
import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os';

/** What the discovery reads; the system's by default, injected by unit tests. */
export interface VmAddressProbe {
  /** The text of /proc/net/route. */
  routes(): Promise<string>;
  /** Interface name → its addresses (os.networkInterfaces()). */
  interfaces(): Record<string, NetworkInterfaceInfo[] | undefined>;
}

export const SYSTEM_ADDRESS_PROBE: VmAddressProbe = {
  routes: () => readFile('/proc/net/route', 'utf8'),
  interfaces: () => networkInterfaces(),
};

export interface DiscoveredAddress {
  ip: string;
  netmask: string;
  /** The default route's gateway, when there is one. */
  gateway?: string;
  /** The interface it was found on. */
  iface: string;
  how: 'default route' | 'only interface';
}

interface DefaultRoute {
  iface: string;
  gateway: string;
  metric: number;
}

/** /proc/net/route holds IPv4 addresses as host-order (little-endian) hex: "0100F40A" is 10.244.0.1. */
export function hexToIp(hex: string): string {
  const n = parseInt(hex, 16);
  return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff].join('.');
}

/** The default routes of /proc/net/route (destination and mask 0), lowest metric first. */
export function defaultRoutes(text: string): DefaultRoute[] {
  const out: DefaultRoute[] = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8) continue;
    const [iface, destination, gateway, flags, , , metric, mask] = f as [string, string, string, string, string, string, string, string];
    const up = (parseInt(flags, 16) & 0x1) !== 0;
    if (!up || parseInt(destination, 16) !== 0 || parseInt(mask, 16) !== 0) continue;
    out.push({ iface, gateway: hexToIp(gateway), metric: Number(metric) });
  }
  return out.sort((a, b) => a.metric - b.metric);
}

function ipv4Of(infos: NetworkInterfaceInfo[] | undefined): NetworkInterfaceInfo | undefined {
  return infos?.find((i) => i.family === 'IPv4' && !i.internal);
}

/** The VM's address as described above, or null when it has none it can tell. */
export async function discoverVmAddress(probe: VmAddressProbe = SYSTEM_ADDRESS_PROBE): Promise<DiscoveredAddress | null> {
  let routes: DefaultRoute[] = [];
  try {
    routes = defaultRoutes(await probe.routes());
  } catch {
    routes = []; // no /proc/net/route (not Linux): fall back to the interfaces
  }
  const interfaces = probe.interfaces();
  for (const route of routes) {
    const info = ipv4Of(interfaces[route.iface]);
    if (info) {
      return { ip: info.address, netmask: info.netmask, ...(route.gateway === '0.0.0.0' ? {} : { gateway: route.gateway }), iface: route.iface, how: 'default route' };
    }
  }
  const candidates = Object.entries(interfaces).flatMap(([iface, infos]) => {
    const info = ipv4Of(infos);
    return info ? [{ iface, info }] : [];
  });
  const only = candidates.length === 1 ? candidates[0] : undefined;
  return only ? { ip: only.info.address, netmask: only.info.netmask, iface: only.iface, how: 'only interface' } : null;
}
