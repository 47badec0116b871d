/**
 * Service discovery in the manifest: the deployment's `dns_aliases` (alias → target, as BOSH DNS
 * aliases) and its containers' cross-VM links, validated with their places and turned into the
 * aliases of the record set (src/common/contracts/dns-records.ts). A target is one of this
 * deployment's names (src/common/dns-names.ts), written in full (`redis.db.prod.bosun`) or
 * relative to the deployment (`redis.db`), or another alias.
 */
import type { DnsAlias } from '../common/contracts/dns-records.js';
import {
  containerDnsName,
  groupDnsName,
  instanceDnsName,
  isBosunDnsName,
  linkAliasDnsName,
  srvDnsName,
  deploymentSearchDomain,
} from '../common/dns-names.js';
import { parseCrossVmLink, crossVmLinksOf } from './cross-vm-links.js';
import type { PathSegment, ProblemList } from './problems.js';
import type { NativeManifest } from './schema.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

const normal = (name: string): string => name.toLowerCase().replace(/\.$/, '');

/** A DNS name of two labels or more (letters, digits, "-", "_"; labels ≤ 63, name ≤ 253). */
export function dnsNameProblem(name: string): string | null {
  const n = normal(name);
  const help = 'write a DNS name such as "db.internal" (letters, digits, "-" and "_", two labels or more)';
  if (n.length === 0 || n.length > 253) return `"${name}" is not a DNS name; ${help}`;
  const labels = n.split('.');
  if (labels.length < 2) return `"${name}" has one label only; ${help}`;
  for (const l of labels) {
    if (!/^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$/.test(l)) return `"${name}" is not a DNS name (label "${l}"); ${help}`;
  }
  return null;
}

interface GroupShape {
  name: string;
  instances: number;
  containers: string[];
}

function groupsOf(raw: Obj): GroupShape[] {
  return list(raw['instance_groups']).flatMap((g) => {
    if (!isObj(g)) return [];
    const name = str(g['name']);
    if (name === null) return [];
    const containers = list(g['containers']).flatMap((c) => (isObj(c) && str(c['name']) !== null ? [str(c['name']) as string] : []));
    const instances = typeof g['instances'] === 'number' ? g['instances'] : 0;
    return [{ name, instances, containers }];
  });
}

/** Every name the deployment's instances answer to (what an alias may point at). */
export function deploymentDnsNames(deployment: string, groups: ReadonlyArray<GroupShape>): Set<string> {
  const names = new Set<string>();
  for (const g of groups) {
    names.add(groupDnsName(deployment, g.name));
    for (const c of g.containers) {
      names.add(containerDnsName(deployment, g.name, c));
      names.add(srvDnsName(deployment, g.name, c, 'tcp'));
      names.add(srvDnsName(deployment, g.name, c, 'udp'));
      for (let i = 0; i < Math.min(g.instances, 10_000); i++) names.add(instanceDnsName(deployment, g.name, c, i));
    }
  }
  return names;
}

/** The fully qualified target of an alias, or null when it names nothing of this deployment. */
function resolveTarget(target: string, deployment: string, names: Set<string>, aliasNames: Set<string>): string | null {
  const t = normal(target);
  if (names.has(t) || aliasNames.has(t)) return t;
  if (!isBosunDnsName(t)) {
    const qualified = `${t}.${deploymentSearchDomain(deployment)}`;
    if (names.has(qualified)) return qualified;
  }
  return null;
}

/** Checks `dns_aliases` and the cross-VM links of every container; reads only values of the right type. */
export function checkServiceDiscovery(raw: unknown, problems: ProblemList): void {
  if (!isObj(raw)) return;
  const deployment = str(raw['name']) ?? '';
  const groups = groupsOf(raw);
  checkLinks(raw, groups, problems);
  const aliases = raw['dns_aliases'];
  if (aliases === undefined) return;
  if (!isObj(aliases)) {
    problems.error(['dns_aliases'], 'dns_aliases must be a map of alias name → target name, e.g. {db.internal: redis.db}');
    return;
  }
  const names = deploymentDnsNames(deployment, groups);
  const aliasNames = new Set(Object.keys(aliases).map(normal));
  const resolved = new Map<string, string>();
  for (const [name, target] of Object.entries(aliases)) {
    const at: PathSegment[] = ['dns_aliases', name];
    const bad = dnsNameProblem(name);
    if (bad !== null) {
      problems.error(at, `the alias ${bad}`, true);
      continue;
    }
    if (names.has(normal(name))) {
      problems.error(at, `the alias "${name}" is already a name of this deployment's instances; choose another name`, true);
      continue;
    }
    if (typeof target !== 'string') {
      problems.error(at, `the target of alias "${name}" must be a name, e.g. "redis.db" or "0.redis.db.${deployment}.bosun"`);
      continue;
    }
    const t = resolveTarget(target, deployment, names, aliasNames);
    if (t === null) {
      const example = groups[0]?.containers[0] === undefined ? `GROUP.${deployment}.bosun` : containerDnsName(deployment, groups[0].name, groups[0].containers[0]);
      problems.error(
        at,
        `alias "${name}" points at "${target}", which is no name of deployment "${deployment}" and no other alias; write a group, container or instance name such as "${example}" (or without ".${deploymentSearchDomain(deployment)}")`,
      );
      continue;
    }
    resolved.set(normal(name), t);
  }
  // An alias chain must end at an instance name; each cycle is reported once, at its first alias.
  const reported = new Set<string>();
  for (const [name] of resolved) {
    const seen = [name];
    let next = resolved.get(name);
    while (next !== undefined && resolved.has(next)) {
      if (seen.includes(next)) {
        const cycle = seen.slice(seen.indexOf(next));
        const key = [...cycle].sort().join(' ');
        if (!reported.has(key)) {
          reported.add(key);
          problems.error(['dns_aliases', originalKey(aliases, next)], `dns_aliases form a cycle: ${[...cycle, next].join(' -> ')}; point one of them at an instance name`);
        }
        break;
      }
      seen.push(next);
      next = resolved.get(next);
    }
  }
}

function originalKey(aliases: Obj, normalName: string): string {
  return Object.keys(aliases).find((k) => normal(k) === normalName) ?? normalName;
}

function checkLinks(raw: Obj, groups: GroupShape[], problems: ProblemList): void {
  const byName = new Map(groups.map((g) => [g.name, g]));
  list(raw['instance_groups']).forEach((g, gi) => {
    if (!isObj(g)) return;
    const groupName = str(g['name']);
    list(g['containers']).forEach((c, ci) => {
      if (!isObj(c)) return;
      const aliases = new Map<string, number>();
      list(c['links']).forEach((e, li) => {
        if (typeof e !== 'string') return;
        const at: PathSegment[] = ['instance_groups', gi, 'containers', ci, 'links', li];
        const link = parseCrossVmLink(e);
        if (link === null) return;
        if (typeof link === 'string') {
          problems.error(at, link);
          return;
        }
        const target = byName.get(link.group);
        if (target === undefined) {
          problems.error(at, `link "${e}" names instance group "${link.group}", which this deployment does not have (${groups.map((x) => `"${x.name}"`).join(', ')})`);
          return;
        }
        if (!target.containers.includes(link.container)) {
          problems.error(
            at,
            `link "${e}" names container "${link.container}", which instance group "${link.group}" does not have${target.containers.length ? ` (${target.containers.map((x) => `"${x}"`).join(', ')})` : ''}`,
          );
          return;
        }
        if (link.group === groupName && link.container === str(c['name'])) {
          problems.error(at, `link "${e}" names this container itself; a container reaches itself without a link`);
          return;
        }
        const first = aliases.get(link.alias.toLowerCase());
        if (first !== undefined) {
          problems.error(at, `link alias "${link.alias}" is used twice in this container's links (links[${first}] has it too); give one of them another alias with ":ALIAS"`);
          return;
        }
        aliases.set(link.alias.toLowerCase(), li);
        const targetRaw = list(raw['instance_groups']).find((x) => isObj(x) && x['name'] === link.group) as Obj | undefined;
        const targetContainer = list(targetRaw?.['containers']).find((x) => isObj(x) && x['name'] === link.container) as Obj | undefined;
        if (list(targetContainer?.['bind_ports']).length === 0) {
          problems.warning(
            at,
            `container "${link.container}" of group "${link.group}" binds no host port, so the link gets no ${link.alias.toUpperCase()}_PORT variables and other VMs reach none of its ports; add bind_ports to it`,
          );
        }
      });
    });
  });
}

/** The aliases of a validated manifest: `dns_aliases`, then every cross-VM link's alias. */
export function dnsAliasesOf(m: NativeManifest): DnsAlias[] {
  const deployment = m.name;
  const groups: GroupShape[] = m.instance_groups.map((g) => ({ name: g.name, instances: g.instances, containers: g.containers.map((c) => c.name) }));
  const names = deploymentDnsNames(deployment, groups);
  const entries = Object.entries(m.dns_aliases ?? {});
  const aliasNames = new Set(entries.map(([k]) => normal(k)));
  const out: DnsAlias[] = [];
  for (const [name, target] of entries) {
    const t = resolveTarget(target, deployment, names, aliasNames);
    if (t !== null) out.push({ name: normal(name), target: t });
  }
  for (const g of m.instance_groups) {
    for (const c of g.containers) {
      for (const l of crossVmLinksOf(c.links)) {
        out.push({ name: linkAliasDnsName(deployment, g.name, c.name, l.alias), target: containerDnsName(deployment, l.group, l.container) });
      }
    }
  }
  return out;
}
