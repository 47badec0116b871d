/**
 * Cross-VM links (docs/service-discovery.md): `links: ["db/redis:cache"]` on a container names a
 * container of another (or the same) instance group, reached by its DNS name instead of Docker's
 * same-VM `--link`. The container gets Docker-link-style variables whose address is the DNS name
 * (so they stay right when that VM is replaced) and the alias `cache` resolves inside it through
 * its link search domain (src/common/dns-names.ts). A link without a slash keeps Docker's meaning.
 */
import { containerDnsName } from '../common/dns-names.js';
import { parsePortBindings } from './units.js';

export interface CrossVmLink {
  group: string;
  container: string;
  /** The name it is known by inside the linking container (default: the container's name). */
  alias: string;
}

/** `GROUP/CONTAINER[:ALIAS]` → the link; null for a same-VM link (no slash). Malformed: a string saying why. */
export function parseCrossVmLink(entry: string): CrossVmLink | string | null {
  if (!entry.includes('/')) return null;
  const m = /^([^/:]+)\/([^/:]+)(?::([^/:]+))?$/.exec(entry);
  if (m === null) return `"${entry}" is not a cross-VM link; write "GROUP/CONTAINER" or "GROUP/CONTAINER:ALIAS"`;
  const [, group = '', container = '', alias] = m;
  const name = alias ?? container;
  if (!/^[a-zA-Z0-9]([a-zA-Z0-9_-]{0,61}[a-zA-Z0-9])?$/.test(name)) {
    return `the link alias "${name}" of "${entry}" is not a DNS label; use letters, digits, "-" and "_" (at most 63, starting and ending with a letter or digit)`;
  }
  return { group, container, alias: name };
}

/** The cross-VM links of a container's `links` (malformed entries are left to validation). */
export function crossVmLinksOf(links: readonly string[] | undefined): CrossVmLink[] {
  const out: CrossVmLink[] = [];
  for (const e of links ?? []) {
    const l = parseCrossVmLink(e);
    if (l !== null && typeof l !== 'string') out.push(l);
  }
  return out;
}

export interface LinkPort {
  port: number;
  protocol: 'tcp' | 'udp';
}

/** The host ports of a container's bind_ports: what other VMs reach it on. */
export function hostPortsOf(bindPorts: ReadonlyArray<string | number> | undefined): LinkPort[] {
  const seen = new Map<string, LinkPort>();
  for (const p of bindPorts ?? []) {
    for (const b of parsePortBindings(p).value ?? []) {
      if (b.hostPort === undefined || (b.protocol !== 'tcp' && b.protocol !== 'udp')) continue;
      seen.set(`${b.hostPort}/${b.protocol}`, { port: b.hostPort, protocol: b.protocol });
    }
  }
  return [...seen.values()].sort((a, b) => a.port - b.port || (a.protocol < b.protocol ? -1 : 1));
}

/**
 * Docker's link variables with the DNS name as address: for alias `cache` and port 6379/tcp,
 * CACHE_PORT (the lowest port, tcp first), CACHE_PORT_6379_TCP, _ADDR, _PORT and _PROTO.
 */
export function linkEnvironment(deployment: string, link: CrossVmLink, ports: readonly LinkPort[]): Array<[string, string]> {
  const prefix = link.alias.toUpperCase().replace(/[^A-Z0-9]/g, '_');
  const address = containerDnsName(deployment, link.group, link.container);
  const out: Array<[string, string]> = [];
  const main = ports.find((p) => p.protocol === 'tcp') ?? ports[0];
  if (main !== undefined) out.push([`${prefix}_PORT`, `${main.protocol}://${address}:${main.port}`]);
  for (const p of ports) {
    const base = `${prefix}_PORT_${p.port}_${p.protocol.toUpperCase()}`;
    out.push([base, `${p.protocol}://${address}:${p.port}`]);
    out.push([`${base}_ADDR`, address]);
    out.push([`${base}_PORT`, String(p.port)]);
    out.push([`${base}_PROTO`, p.protocol]);
  }
  return out;
}
