import { existsSync } from 'node:fs';
import type { Subnet } from './ip.js';
import { run, tryRun } from './exec.js';

export const NETNS_PREFIX = 'bosun-';

export function netnsName(vmCid: string): string {
  return `${NETNS_PREFIX}${vmCid}`;
}

export function netnsExists(vmCid: string): boolean {
  return existsSync(`/run/netns/${netnsName(vmCid)}`);
}

/** Host-side veth name: Linux allows 15 characters, so it keeps the cid's random tail. */
export function hostVethName(vmCid: string): string {
  return `bv${vmCid.replace(/[^A-Za-z0-9]/g, '').slice(-13)}`;
}

function peerVethName(vmCid: string): string {
  return `bp${vmCid.replace(/[^A-Za-z0-9]/g, '').slice(-13)}`;
}

/**
 * The VM's MAC address, derived from its IP (locally administered, unicast: 02:b0 + the four
 * bytes of the address). A replacement VM that gets the same address gets the same MAC, so the
 * other VMs' ARP caches stay right and they reach it at once instead of after their stale entry
 * for the dead VM times out (tens of seconds).
 */
export function macForIp(ip: string): string {
  const bytes = ip.split('.').map(Number);
  if (bytes.length !== 4 || bytes.some((b) => !Number.isInteger(b) || b < 0 || b > 255)) {
    throw new Error(`Cannot derive a MAC address from "${ip}": not an IPv4 address.`);
  }
  return ['02', 'b0', ...bytes.map((b) => b.toString(16).padStart(2, '0'))].join(':');
}

/** Creates the bridge with the subnet's first address if it is missing; never touches anything else on the host. */
export async function ensureBridge(bridge: string, subnet: Subnet): Promise<void> {
  const exists = await tryRun('ip', ['link', 'show', 'dev', bridge]);
  if (!('stdout' in exists)) {
    await run('ip', ['link', 'add', 'name', bridge, 'type', 'bridge']);
  }
  const addr = `${subnet.gateway}/${subnet.prefixLength}`;
  const { stdout } = await run('ip', ['-o', '-4', 'addr', 'show', 'dev', bridge]);
  if (!stdout.includes(` ${addr} `)) {
    await run('ip', ['addr', 'add', addr, 'dev', bridge]);
  }
  await run('ip', ['link', 'set', 'dev', bridge, 'up']);
}

/**
 * The VM's network: its own namespace, a veth pair into the bridge, its address and only the
 * subnet route (no default route: a VM reaches the director and other VMs, nothing else).
 */
export async function createVmNetwork(
  vmCid: string,
  ip: string,
  subnet: Subnet,
  bridge: string,
): Promise<void> {
  const ns = netnsName(vmCid);
  const hostVeth = hostVethName(vmCid);
  const peer = peerVethName(vmCid);
  if (!netnsExists(vmCid)) await run('ip', ['netns', 'add', ns]);
  await tryRun('ip', ['link', 'del', hostVeth]);
  await run('ip', ['link', 'add', hostVeth, 'type', 'veth', 'peer', 'name', peer]);
  await run('ip', ['link', 'set', peer, 'netns', ns]);
  await run('ip', ['link', 'set', hostVeth, 'master', bridge, 'up']);
  await run('ip', ['-n', ns, 'link', 'set', peer, 'name', 'eth0']);
  await run('ip', ['-n', ns, 'link', 'set', 'eth0', 'address', macForIp(ip)]);
  await run('ip', ['-n', ns, 'addr', 'add', `${ip}/${subnet.prefixLength}`, 'dev', 'eth0']);
  await run('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
  await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
}

/**
 * A default route via the host's bridge address, for a VM that finds its own address the way
 * BOSH's agent does (the default-route interface) when the cloud does not report it. The host
 * does not route VM traffic onwards, so it still reaches only the director and other VMs.
 */
export async function addVmDefaultRoute(vmCid: string, subnet: Subnet): Promise<void> {
  await run('ip', ['-n', netnsName(vmCid), 'route', 'replace', 'default', 'via', subnet.gateway, 'dev', 'eth0']);
}

/** Removes the namespace and the host-side veth; missing pieces are fine (idempotent). */
export async function deleteVmNetwork(vmCid: string): Promise<void> {
  if (netnsExists(vmCid)) {
    const res = await tryRun('ip', ['netns', 'del', netnsName(vmCid)]);
    if (!('stdout' in res) && netnsExists(vmCid)) throw res;
  }
  // Deleting the namespace destroys its end of the pair and with it ours; this catches leftovers.
  await tryRun('ip', ['link', 'del', hostVethName(vmCid)]);
}
