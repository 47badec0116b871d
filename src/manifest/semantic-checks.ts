/**
 * Checks that relate several values: names, host ports, references between containers,
 * dependency cycles, data without a persistent disk. They run on the raw native data even when
 * the schema found errors (reading only values of the right type), so that the user gets every
 * problem at once.
 */
import type { PathSegment, ProblemList } from './problems.js';
import { parseBytes, parseKeyValue, parsePortBindings, type PortBinding } from './units.js';
import { parseEnvFile, parseVolume, RELEASE_STORE_DIR, vmPathAllowed } from './volumes.js';
import { checkStemcells } from './stemcells.js';
import { checkServiceDiscovery } from './dns-aliases.js';

/** What the director allows in manifests beyond the defaults. */
export interface ManifestPolicy {
  /**
   * Absolute directories of a VM (outside /var/vcap/store) that `volumes` may mount, read-only,
   * each with everything below it. Default: none.
   */
  allowedHostPaths?: string[];
}

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

const ANY_IP = new Set(['', '0.0.0.0', '::']);

export function checkSemantics(raw: unknown, problems: ProblemList, policy: ManifestPolicy = {}): void {
  if (!isObj(raw)) return;
  const groups = list(raw['instance_groups']);
  const groupNames = new Map<string, number>();
  groups.forEach((g, gi) => {
    if (!isObj(g)) return;
    const name = str(g['name']);
    if (name !== null) {
      const first = groupNames.get(name);
      if (first !== undefined)
        problems.error(
          ['instance_groups', gi, 'name'],
          `duplicate instance group name "${name}"; instance_groups[${first}] already uses it`,
        );
      else groupNames.set(name, gi);
    }
    checkGroup(g, ['instance_groups', gi], problems, policy);
  });
  checkStemcells(raw, problems);
  checkServiceDiscovery(raw, problems);
}

interface ContainerRef {
  index: number;
  name: string;
  raw: Obj;
}

function checkGroup(g: Obj, at: PathSegment[], problems: ProblemList, policy: ManifestPolicy): void {
  const groupName = str(g['name']) ?? '?';
  if (g['persistent_disk'] !== undefined && g['persistent_disk_type'] !== undefined)
    problems.error([...at, 'persistent_disk_type'], `instance group "${groupName}" gives both persistent_disk and persistent_disk_type; keep one`);
  const containers: ContainerRef[] = [];
  const byName = new Map<string, ContainerRef>();
  list(g['containers']).forEach((c, ci) => {
    if (!isObj(c)) return;
    const name = str(c['name']);
    if (name === null) return;
    const ref = { index: ci, name, raw: c };
    const first = byName.get(name);
    if (first)
      problems.error(
        [...at, 'containers', ci, 'name'],
        `duplicate container name "${name}" in instance group "${groupName}"; containers[${first.index}] already uses it`,
      );
    else byName.set(name, ref);
    containers.push(ref);
  });

  checkHostPorts(containers, at, problems);
  const hasDisk = diskSize(g['persistent_disk']) > 0;
  for (const c of containers) {
    const cAt = [...at, 'containers', c.index];
    checkReferences(c, byName, groupName, cAt, problems);
    checkEnv(c.raw, cAt, problems);
    checkMemory(c.raw, cAt, problems);
    checkHostPaths(c.raw, cAt, problems, policy);
    const image = str(c.raw['image']);
    if (typeof c.raw['dockerfile'] === 'string' && image?.includes('@')) {
      problems.error(
        [...cAt, 'image'],
        `"${image}" is a digest, but this container builds its image from a dockerfile; name the image to build, e.g. "team/app" or "team/app:1"`,
      );
    }
    for (const key of ['bind_volumes', 'volumes'] as const) {
      if (!hasDisk && list(c.raw[key]).length > 0) {
        problems.warning(
          [...cAt, key],
          `container "${c.name}" keeps data in ${key} but instance group "${groupName}" has no persistent_disk: the data would be lost when the VM is replaced; add e.g. persistent_disk: 1024`,
        );
      }
    }
  }
  checkCycles(containers, byName, at, problems);
}

function diskSize(v: unknown): number {
  if (typeof v === 'number') return v;
  if (isObj(v) && typeof v['size'] === 'number') return v['size'];
  return 0;
}

function checkHostPorts(containers: ContainerRef[], at: PathSegment[], problems: ProblemList): void {
  const bound: Array<{ port: PortBinding; container: string }> = [];
  /** Records a host port; false (and an error) when another binding already holds it. */
  const bind = (port: PortBinding, c: ContainerRef, pi: number): boolean => {
    const clash = bound.find(
      (b) =>
        b.port.hostPort === port.hostPort &&
        b.port.protocol === port.protocol &&
        (ANY_IP.has(b.port.hostIp ?? '') || ANY_IP.has(port.hostIp ?? '') || b.port.hostIp === port.hostIp),
    );
    if (clash) {
      const what = `${port.hostPort}${port.protocol === 'tcp' ? '' : `/${port.protocol}`}`;
      const by = clash.container === c.name ? 'this container' : `container "${clash.container}"`;
      problems.error(
        [...at, 'containers', c.index, 'bind_ports', pi],
        `host port ${what} is already bound by ${by} on this VM`,
      );
      return false;
    }
    bound.push({ port, container: c.name });
    return true;
  };
  for (const c of containers) {
    list(c.raw['bind_ports']).forEach((p, pi) => {
      for (const port of parsePortBindings(p).value ?? []) {
        // One error per entry, even for a range.
        if (port.hostPort !== undefined && !bind(port, c, pi)) return;
      }
    });
  }
}

function checkHostPaths(c: Obj, at: PathSegment[], problems: ProblemList, policy: ManifestPolicy): void {
  list(c['volumes']).forEach((v, i) => {
    const parsed = parseVolume(v).value;
    if (parsed?.vmPath === undefined) return;
    const host = parsed.vmPath;
    if (!vmPathAllowed(host, policy.allowedHostPaths)) {
      problems.error(
        [...at, 'volumes', i],
        `"${String(v)}" mounts "${host}", a directory of the VM itself; the director's host-path policy refuses absolute host paths outside ${RELEASE_STORE_DIR} (the persistent disk) by default. Keep the data on the persistent disk ("${RELEASE_STORE_DIR}/…" or a relative path), or have the director's operator allow the directory with manifest_policy.allowed_host_paths in the director config (it is then mounted read-only)`,
      );
    } else if (parsed.mode === 'rw') {
      problems.warning(
        [...at, 'volumes', i],
        `"${String(v)}" is mounted read-only: the director's host-path policy allows directories of the VM read-only only`,
      );
    }
  });
}

/** The container named by a depends_on / links / volumes_from entry. */
export function referencedName(key: 'depends_on' | 'links' | 'volumes_from', entry: string): string {
  if (key === 'depends_on') return entry;
  const colon = entry.indexOf(':');
  return colon < 0 ? entry : entry.slice(0, colon);
}

function checkReferences(
  c: ContainerRef,
  byName: Map<string, ContainerRef>,
  groupName: string,
  at: PathSegment[],
  problems: ProblemList,
): void {
  for (const key of ['depends_on', 'links', 'volumes_from'] as const) {
    list(c.raw[key]).forEach((e, i) => {
      if (typeof e !== 'string') return;
      // GROUP/CONTAINER[:ALIAS]: a cross-VM link, checked by dns-aliases.ts.
      if (key === 'links' && e.includes('/')) return;
      const target = referencedName(key, e);
      if (key === 'volumes_from' && !/^[^:]+(:(ro|rw))?$/.test(e)) {
        problems.error([...at, key, i], `"${e}" is not "CONTAINER" or "CONTAINER:ro"`);
      } else if (target === c.name) {
        problems.error([...at, key, i], `container "${c.name}" cannot name itself in ${key}`);
      } else if (!byName.has(target)) {
        const known = [...byName.keys()].filter((n) => n !== c.name);
        problems.error(
          [...at, key, i],
          `${key} names container "${target}", which is not in instance group "${groupName}"; a container can only refer to containers on the same VM${known.length ? ` (${known.map((n) => `"${n}"`).join(', ')})` : ''}`,
        );
      }
    });
  }
}

function checkEnv(c: Obj, at: PathSegment[], problems: ProblemList): void {
  const seen = new Map<string, string>();
  const note = (k: string, where: string, path: PathSegment[]): void => {
    const first = seen.get(k);
    if (first !== undefined)
      problems.error(path, `environment variable "${k}" is set twice (already in ${first}); keep one`);
    else seen.set(k, where);
  };
  if (isObj(c['env'])) for (const k of Object.keys(c['env'])) note(k, 'env', [...at, 'env', k]);
  list(c['env_vars']).forEach((e, i) => {
    const kv = parseKeyValue(e, 'environment variable');
    if (kv.value) note(kv.value[0], 'env_vars', [...at, 'env_vars', i]);
  });
  for (const [k] of parseEnvFile(c['env_file']).value ?? []) note(k, 'env_file', [...at, 'env_file']);
}

function checkMemory(c: Obj, at: PathSegment[], problems: ProblemList): void {
  const mem = c['memory'] === undefined ? undefined : parseBytes(c['memory']).value;
  const swap =
    c['memory_swap'] === undefined ? undefined : parseBytes(c['memory_swap'], { allowMinusOne: true }).value;
  const reservation =
    c['memory_reservation'] === undefined ? undefined : parseBytes(c['memory_reservation']).value;
  if (swap !== undefined && swap !== -1) {
    if (mem === undefined)
      problems.error(
        [...at, 'memory_swap'],
        'memory_swap needs memory to be set too (it is the limit of memory plus swap)',
      );
    else if (swap < mem)
      problems.error(
        [...at, 'memory_swap'],
        `memory_swap (${String(c['memory_swap'])}) is below memory (${String(c['memory'])}); it is the limit of memory plus swap, so it must be at least memory, or -1 for unlimited swap`,
      );
  }
  if (mem !== undefined && reservation !== undefined && reservation > mem) {
    problems.error(
      [...at, 'memory_reservation'],
      `memory_reservation (${String(c['memory_reservation'])}) is above memory (${String(c['memory'])}); a soft limit must be below the hard limit`,
    );
  }
}

/** Containers a container must start after: depends_on, link targets and volumes_from sources. */
export function dependenciesOf(c: Obj): string[] {
  const out: string[] = [];
  for (const key of ['depends_on', 'links', 'volumes_from'] as const) {
    for (const e of list(c[key])) {
      if (typeof e !== 'string') continue;
      if (key === 'links' && e.includes('/')) continue; // cross-VM: no start order across VMs
      const n = referencedName(key, e);
      if (!out.includes(n)) out.push(n);
    }
  }
  return out;
}

function checkCycles(
  containers: ContainerRef[],
  byName: Map<string, ContainerRef>,
  at: PathSegment[],
  problems: ProblemList,
): void {
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const reported = new Set<string>();
  const visit = (name: string): void => {
    const c = byName.get(name);
    if (!c) return;
    state.set(name, 'visiting');
    stack.push(name);
    for (const dep of dependenciesOf(c.raw)) {
      if (dep === name || !byName.has(dep)) continue;
      const s = state.get(dep);
      if (s === 'visiting') {
        const cycle = [...stack.slice(stack.indexOf(dep)), dep];
        const key = [...cycle.slice(0, -1)].sort().join(',');
        if (!reported.has(key)) {
          reported.add(key);
          const from = byName.get(dep);
          const field = from ? dependencyKey(from.raw, cycle[1] ?? '') : 'depends_on';
          problems.error(
            [...at, 'containers', from?.index ?? 0, field],
            `dependency cycle: ${cycle.join(' -> ')}; containers cannot start in any order, remove one of these dependencies`,
          );
        }
      } else if (s === undefined) {
        visit(dep);
      }
    }
    stack.pop();
    state.set(name, 'done');
  };
  for (const c of containers) if (!state.has(c.name)) visit(c.name);
}

function dependencyKey(c: Obj, target: string): 'depends_on' | 'links' | 'volumes_from' {
  for (const key of ['depends_on', 'links', 'volumes_from'] as const) {
    if (list(c[key]).some((e) => typeof e === 'string' && referencedName(key, e) === target)) return key;
  }
  return 'depends_on';
}
