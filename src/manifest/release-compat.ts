/**
 * Accepts manifests written for the docker BOSH release and converts them to the native shape:
 * v1 (top-level `jobs:` with `templates: [docker, containers]`) and v2 (`instance_groups:` with
 * `jobs: [docker, containers]`), containers under `properties.containers`, daemon options under
 * `properties.docker`. Every converted value remembers where it came from, so that errors point
 * at the user's own file.
 */
import type { PathSegment, ProblemList } from './problems.js';

export type ManifestFormat = 'native' | 'bosh-release-v1' | 'bosh-release-v2';

export interface PathMapping {
  native: PathSegment[];
  original: PathSegment[];
}

export interface Converted {
  format: ManifestFormat;
  native: unknown;
  /** native path prefix → path in the user's file (longest prefix wins). */
  mappings: PathMapping[];
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** BOSH keys that bosun has no use for; dropped without a word. */
const IGNORED_TOP = new Set([
  'director_uuid',
  'releases',
  'stemcells',
  'compilation',
  'resource_pools',
  'disk_pools',
  'disk_types',
  'vm_types',
  'networks',
  'variables',
  'features',
  'tags',
  'addons',
  'cloud_provider',
  'azs',
  'vm_extensions',
]);
const IGNORED_GROUP = new Set([
  'lifecycle',
  'azs',
  'stemcell',
  'vm_extensions',
  'env',
  'migrated_from',
  'update',
  'resource_pool',
  'persistent_disk_pool',
  'persistent_disk_type',
  'templates',
  'jobs',
  'properties',
]);
/** Release container keys bosun does not model. */
const RELEASE_ONLY_CONTAINER_KEYS: Record<string, string> = {
  volume_driver: 'bosun mounts only directories of the persistent disk',
  disable_content_trust: "images come from bosun's registry",
  mac_address: 'containers use the default bridge network',
  net: 'containers use the default bridge network',
  timeout: 'the agent supervises containers itself',
  lxc_options: 'Docker no longer supports LXC options',
};
const DAEMON_KEYS = new Set([
  'storage_driver',
  'insecure_registries',
  'registry_mirrors',
  'log_driver',
  'log_options',
  'mtu',
  'labels',
  'debug',
  'live_restore',
]);

export function detectFormat(raw: unknown): ManifestFormat {
  if (!isObj(raw)) return 'native';
  if (Array.isArray(raw['jobs']) && raw['instance_groups'] === undefined) return 'bosh-release-v1';
  const groups = raw['instance_groups'];
  if (
    Array.isArray(groups) &&
    groups.some(
      (g) =>
        isObj(g) &&
        (Array.isArray(g['jobs']) || Array.isArray(g['templates'])) &&
        g['containers'] === undefined,
    )
  )
    return 'bosh-release-v2';
  return 'native';
}

export function convertReleaseManifest(raw: unknown, problems: ProblemList): Converted {
  const format = detectFormat(raw);
  if (format === 'native' || !isObj(raw)) return { format, native: raw, mappings: [] };
  const groupsKey = format === 'bosh-release-v1' ? 'jobs' : 'instance_groups';
  const mappings: PathMapping[] = [];
  const native: Obj = {};
  for (const [k, v] of Object.entries(raw)) {
    if (k === 'name' || k === 'update') native[k] = v;
    else if (k === groupsKey || k === 'properties' || IGNORED_TOP.has(k)) continue;
    else native[k] = v; // left for the schema to report as an unknown key
  }
  const globalProps = isObj(raw['properties']) ? raw['properties'] : {};
  const groups = Array.isArray(raw[groupsKey]) ? (raw[groupsKey] as unknown[]) : [];
  native['instance_groups'] = groups.map((g, gi) => {
    const at: PathSegment[] = [groupsKey, gi];
    mappings.push({ native: ['instance_groups', gi], original: at });
    return isObj(g) ? convertGroup(raw, g, gi, at, format, globalProps, mappings, problems) : g;
  });
  return { format, native, mappings };
}

function convertGroup(
  root: Obj,
  g: Obj,
  gi: number,
  at: PathSegment[],
  format: ManifestFormat,
  globalProps: Obj,
  mappings: PathMapping[],
  problems: ProblemList,
): Obj {
  const out: Obj = {};
  for (const [k, v] of Object.entries(g)) {
    if (
      k === 'name' ||
      k === 'instances' ||
      k === 'persistent_disk' ||
      k === 'vm_type' ||
      k === 'cloud_properties'
    )
      out[k] = v;
    else if (k === 'networks')
      out[k] = Array.isArray(v)
        ? v.map((n) => (isObj(n) ? pick(n, ['name', 'static_ips', 'default']) : n))
        : v;
    else if (!IGNORED_GROUP.has(k)) out[k] = v;
  }
  const jobsKey = format === 'bosh-release-v1' ? 'templates' : 'jobs';
  const jobs = Array.isArray(g[jobsKey])
    ? (g[jobsKey] as unknown[])
    : Array.isArray(g['templates'])
      ? (g['templates'] as unknown[])
      : [];
  let containersAt: PathSegment[] | null = null;
  let dockerAt: PathSegment[] | null = null;
  const groupProps = isObj(g['properties']) ? g['properties'] : null;
  jobs.forEach((j, ji) => {
    const name = isObj(j) ? j['name'] : j;
    if (name === 'docker' || name === 'containers') {
      const props = isObj(j) && isObj(j['properties']) ? j['properties'] : null;
      if (props && props['containers'] !== undefined)
        containersAt = [...at, jobsKey, ji, 'properties', 'containers'];
      if (props && props['docker'] !== undefined) dockerAt = [...at, jobsKey, ji, 'properties', 'docker'];
    } else {
      problems.warning(
        [...at, jobsKey, ji],
        `job "${String(name)}" is ignored: bosun runs only the docker release's "docker" and "containers" jobs`,
      );
    }
  });
  if (!containersAt && groupProps?.['containers'] !== undefined)
    containersAt = [...at, 'properties', 'containers'];
  if (!containersAt && globalProps['containers'] !== undefined) containersAt = ['properties', 'containers'];
  if (!dockerAt && groupProps?.['docker'] !== undefined) dockerAt = [...at, 'properties', 'docker'];
  if (!dockerAt && globalProps['docker'] !== undefined) dockerAt = ['properties', 'docker'];

  // A pool or disk type named in the manifest itself can be resolved; the cloud config cannot.
  const diskRef = g['persistent_disk_pool'] ?? g['persistent_disk_type'];
  if (out['persistent_disk'] === undefined && typeof diskRef === 'string') {
    const pool = findNamed(root['disk_pools'], diskRef) ?? findNamed(root['disk_types'], diskRef);
    if (pool && typeof pool['disk_size'] === 'number') {
      out['persistent_disk'] = isObj(pool['cloud_properties'])
        ? { size: pool['disk_size'], cloud_properties: pool['cloud_properties'] }
        : pool['disk_size'];
    } else {
      const key = g['persistent_disk_pool'] !== undefined ? 'persistent_disk_pool' : 'persistent_disk_type';
      problems.error(
        [...at, key],
        `disk ${key === 'persistent_disk_pool' ? 'pool' : 'type'} "${diskRef}" is not defined in this manifest; write persistent_disk: <size in MiB> instead`,
      );
    }
  }
  const pool = typeof g['resource_pool'] === 'string' ? g['resource_pool'] : null;
  if (pool !== null) {
    out['vm_type'] = pool;
    const rp = findNamed(root['resource_pools'], pool);
    if (rp && isObj(rp['cloud_properties'])) out['cloud_properties'] = rp['cloud_properties'];
  }

  const containers = containersAt ? get(root, containersAt) : [];
  if (containersAt) mappings.push({ native: ['instance_groups', gi, 'containers'], original: containersAt });
  out['containers'] = Array.isArray(containers)
    ? containers.map((c, ci) => (isObj(c) ? convertContainer(c, [...(containersAt ?? []), ci], problems) : c))
    : containers;
  if (dockerAt) {
    const d = get(root, dockerAt);
    mappings.push({ native: ['instance_groups', gi, 'docker'], original: dockerAt });
    mappings.push({
      native: ['instance_groups', gi, 'docker', 'dns'],
      original: [...dockerAt, 'dns_servers'],
    });
    out['docker'] = isObj(d) ? convertDaemon(d, dockerAt, problems) : d;
  }
  return out;
}

function convertContainer(c: Obj, at: PathSegment[], problems: ProblemList): Obj {
  const out: Obj = {};
  for (const [k, v] of Object.entries(c)) {
    const why = RELEASE_ONLY_CONTAINER_KEYS[k];
    if (why !== undefined) {
      problems.warning([...at, k], `"${k}" is ignored: ${why}`, true);
      continue;
    }
    out[k] = v;
  }
  return out;
}

function convertDaemon(d: Obj, at: PathSegment[], problems: ProblemList): Obj {
  const out: Obj = {};
  for (const [k, v] of Object.entries(d)) {
    if (DAEMON_KEYS.has(k)) out[k] = v;
    else if (k === 'dns_servers') out['dns'] = v;
    else
      problems.warning(
        [...at, k],
        `docker daemon option "${k}" is ignored: bosun configures dockerd's socket, TLS, bridge and networking itself`,
        true,
      );
  }
  return out;
}

function pick(o: Obj, keys: string[]): Obj {
  return Object.fromEntries(Object.entries(o).filter(([k]) => keys.includes(k)));
}

function findNamed(list: unknown, name: string): Obj | undefined {
  return Array.isArray(list)
    ? (list.find((x) => isObj(x) && x['name'] === name) as Obj | undefined)
    : undefined;
}

function get(root: unknown, path: PathSegment[]): unknown {
  let cur: unknown = root;
  for (const seg of path) {
    if (Array.isArray(cur) && typeof seg === 'number') cur = cur[seg];
    else if (isObj(cur)) cur = cur[String(seg)];
    else return undefined;
  }
  return cur;
}

/** The path in the user's file of a path in the converted native manifest. */
export function toOriginalPath(path: PathSegment[], mappings: PathMapping[]): PathSegment[] {
  let best: PathMapping | null = null;
  for (const m of mappings) {
    if (
      m.native.length <= path.length &&
      m.native.every((s, i) => s === path[i]) &&
      (!best || m.native.length > best.native.length)
    )
      best = m;
  }
  return best ? [...best.original, ...path.slice(best.native.length)] : path;
}
