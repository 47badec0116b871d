/**
 * Accepts manifests written for the docker BOSH release and converts them to the native shape:
 * v1 (top-level `jobs:` with `templates:`/`template:`) and v2 (`instance_groups:` with `jobs:`).
 * BOSH's rules: a group runs only the jobs it lists; a job reads its own `properties` when it has
 * them, otherwise the group's (v2) merged over the deployment's `properties` (defaults for every job
 * that reads them). An errand group, or a group with neither the `docker` nor the `containers` job,
 * gets no VM (with a warning). Every property of the two jobs is mapped or named in a warning
 * (release-properties.ts). Every converted value remembers where it came from, so that errors
 * point at the user's own file.
 */
import type { PathSegment, ProblemList } from './problems.js';
import {
  BOSH_ONLY_GROUP_KEYS,
  BOSH_ONLY_TOP_KEYS,
  CONTAINER_PROPERTIES,
  DOCKER_JOB_PROPERTIES,
  UPDATE_KEYS,
  type Coerce,
} from './release-properties.js';
import { nearestKey } from './nearest-key.js';

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

const RELEASE_JOBS = new Set(['docker', 'containers']);

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

interface Ctx {
  root: Obj;
  format: ManifestFormat;
  mappings: PathMapping[];
  problems: ProblemList;
}

export function convertReleaseManifest(raw: unknown, problems: ProblemList): Converted {
  const format = detectFormat(raw);
  if (format === 'native' || !isObj(raw)) return { format, native: raw, mappings: [] };
  const groupsKey = format === 'bosh-release-v1' ? 'jobs' : 'instance_groups';
  const ctx: Ctx = { root: raw, format, mappings: [], problems };
  const native: Obj = {};
  for (const [k, v] of Object.entries(raw)) {
    if (k === 'name') native[k] = v;
    else if (k === 'update') native[k] = convertUpdate(v, ['update'], problems);
    else if (k === groupsKey || k === 'properties' || BOSH_ONLY_TOP_KEYS.has(k)) continue;
    else native[k] = v; // left for the schema to report as an unknown key (v2's `stemcells` is native too)
  }
  if (format === 'bosh-release-v1') {
    const stemcells = resourcePoolStemcells(ctx);
    if (stemcells.length > 0) native['stemcells'] = stemcells;
  }
  const groups = Array.isArray(raw[groupsKey]) ? (raw[groupsKey] as unknown[]) : [];
  const out: unknown[] = [];
  groups.forEach((g, gi) => {
    const at: PathSegment[] = [groupsKey, gi];
    if (!isObj(g)) {
      ctx.mappings.push({ native: ['instance_groups', out.length], original: at });
      out.push(g);
      return;
    }
    const converted = convertGroup(ctx, g, at, out.length);
    if (converted) {
      ctx.mappings.push({ native: ['instance_groups', out.length], original: at });
      out.push(converted);
    }
  });
  native['instance_groups'] = out;
  return { format, native, mappings: ctx.mappings };
}

function convertUpdate(v: unknown, at: PathSegment[], problems: ProblemList): unknown {
  if (!isObj(v)) return v;
  const out: Obj = {};
  for (const [k, x] of Object.entries(v)) {
    if (UPDATE_KEYS.has(k)) out[k] = x;
    else problems.warning([...at, k], `update option "${k}" is ignored: bosun's update policy has ${[...UPDATE_KEYS].join(', ')}`, true);
  }
  return out;
}

/** Job names of a group (v1 `templates`/`template`, v2 `jobs`), with each job's path and properties. */
interface JobRef {
  name: string;
  at: PathSegment[];
  properties: Obj | null;
}

function jobsOf(g: Obj, at: PathSegment[], format: ManifestFormat): JobRef[] {
  const key = format === 'bosh-release-v2' && g['jobs'] !== undefined ? 'jobs' : g['templates'] !== undefined ? 'templates' : 'template';
  const v = g[key];
  const list = typeof v === 'string' ? [v] : Array.isArray(v) ? v : [];
  return list.map((j, ji) => {
    const jat: PathSegment[] = typeof v === 'string' ? [...at, key] : [...at, key, ji];
    if (typeof j === 'string') return { name: j, at: jat, properties: null };
    const o = isObj(j) ? j : {};
    return { name: String(o['name'] ?? ''), at: jat, properties: isObj(o['properties']) ? o['properties'] : null };
  });
}

/** A property of a job: its own properties, else the group's (v1: the job's) over the deployment's. */
interface Found {
  value: unknown;
  at: PathSegment[];
}

function finder(ctx: Ctx, g: Obj, at: PathSegment[], job: JobRef): (key: string) => Found | undefined {
  const global = isObj(ctx.root['properties']) ? ctx.root['properties'] : {};
  const groupProps = isObj(g['properties']) ? g['properties'] : {};
  return (key) => {
    if (job.properties) {
      return job.properties[key] === undefined ? undefined : { value: job.properties[key], at: [...job.at, 'properties', key] };
    }
    if (groupProps[key] !== undefined) return { value: groupProps[key], at: [...at, 'properties', key] };
    if (global[key] !== undefined) return { value: global[key], at: ['properties', key] };
    return undefined;
  };
}

function convertGroup(ctx: Ctx, g: Obj, at: PathSegment[], nativeIndex: number): Obj | null {
  const { problems, root, format } = ctx;
  const name = typeof g['name'] === 'string' ? g['name'] : `#${String(at[1])}`;
  const jobs = jobsOf(g, at, format);
  const ours = jobs.filter((j) => RELEASE_JOBS.has(j.name));
  if (g['lifecycle'] === 'errand') {
    problems.warning(
      [...at, 'lifecycle'],
      `instance group "${name}" is an errand (lifecycle: errand); bosun runs no errands (there is no \`bosun run-errand\`), so it is skipped and gets no VM`,
    );
    return null;
  }
  if (ours.length === 0) {
    const names = jobs.map((j) => `"${j.name}"`).join(', ') || 'none';
    problems.warning(
      [...at, 'name'],
      `instance group "${name}" runs neither the docker release's "docker" nor its "containers" job (its jobs: ${names}); bosun runs only those two, so it is skipped and gets no VM`,
    );
    return null;
  }
  const out: Obj = {};
  for (const [k, v] of Object.entries(g)) {
    if (['name', 'instances', 'persistent_disk', 'vm_type', 'vm_extensions', 'azs', 'cloud_properties', 'stemcell'].includes(k)) out[k] = v;
    else if (k === 'networks')
      out[k] = Array.isArray(v) ? v.map((n) => (isObj(n) ? pick(n, ['name', 'static_ips', 'default']) : n)) : v;
    else if (k === 'update')
      problems.warning([...at, k], 'a group-level update is ignored: the deployment\'s update applies to every group', true);
    else if (
      BOSH_ONLY_GROUP_KEYS.has(k) ||
      ['lifecycle', 'jobs', 'templates', 'template', 'properties', 'resource_pool', 'persistent_disk_pool', 'persistent_disk_type'].includes(k)
    )
      continue;
    else out[k] = v;
  }
  for (const j of jobs)
    if (!RELEASE_JOBS.has(j.name))
      problems.warning(
        j.at,
        `job "${j.name}" is ignored: bosun runs only the docker release's "docker" and "containers" jobs`,
      );

  // A pool or disk type named in the manifest itself is resolved here; a disk type it does not
  // define is the cloud config's (the director resolves it at deploy).
  const diskRef = g['persistent_disk_pool'] ?? g['persistent_disk_type'];
  if (out['persistent_disk'] === undefined && typeof diskRef === 'string') {
    const pool = findNamed(root['disk_pools'], diskRef) ?? findNamed(root['disk_types'], diskRef);
    if (pool && typeof pool['disk_size'] === 'number') {
      out['persistent_disk'] = isObj(pool['cloud_properties'])
        ? { size: pool['disk_size'], cloud_properties: pool['cloud_properties'] }
        : pool['disk_size'];
    } else if (g['persistent_disk_pool'] === undefined) {
      out['persistent_disk_type'] = diskRef;
    } else {
      const key = 'persistent_disk_pool';
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
    // v1's stemcell is the resource pool's: its alias is the pool's name (resourcePoolStemcells).
    if (rp && isObj(rp['stemcell'])) {
      out['stemcell'] = pool;
      ctx.mappings.push({ native: ['instance_groups', nativeIndex, 'stemcell'], original: [...at, 'resource_pool'] });
    }
  }

  const gAt: PathSegment[] = ['instance_groups', nativeIndex];
  const containersJob = ours.find((j) => j.name === 'containers');
  const dockerJob = ours.find((j) => j.name === 'docker');
  // v1 had no per-template properties: both jobs read the group's properties over the deployment's.
  out['containers'] = [];
  if (containersJob) {
    const found = finder(ctx, g, at, containersJob)('containers');
    if (found) {
      ctx.mappings.push({ native: [...gAt, 'containers'], original: found.at });
      out['containers'] = Array.isArray(found.value)
        ? found.value.map((c, ci) =>
            isObj(c) ? convertContainer(ctx, c, [...found.at, ci], [...gAt, 'containers', ci]) : c,
          )
        : found.value;
    }
  }
  if (!containersJob && isObj(g['properties']) && g['properties']['containers'] !== undefined)
    problems.warning(
      [...at, 'properties', 'containers'],
      `instance group "${name}" lists no "containers" job, so these containers are not run (a group runs only the jobs it lists); add the containers job to run them`,
      true,
    );
  if (dockerJob) {
    const daemon = convertDaemon(ctx, finder(ctx, g, at, dockerJob), dockerJob, [...gAt, 'docker']);
    if (Object.keys(daemon).length > 0) out['docker'] = daemon;
  }
  return out;
}

function coerce(v: unknown, how: Coerce | undefined): unknown {
  switch (how) {
    case 'list':
      return typeof v === 'string' || typeof v === 'number' ? [v] : v;
    case 'list-split': {
      const list = typeof v === 'string' || typeof v === 'number' ? [v] : v;
      if (!Array.isArray(list)) return list;
      return list.flatMap((x) =>
        typeof x === 'string' && x.includes(',')
          ? x
              .split(',')
              .map((s) => s.trim())
              .filter((s) => s !== '')
          : [typeof x === 'string' ? x.trim() : x],
      );
    }
    case 'int':
      return typeof v === 'string' && /^\s*-?\d+\s*$/.test(v) ? Number(v) : v;
    case 'bool':
      return v === 'true' ? true : v === 'false' ? false : v;
    default:
      return v;
  }
}

/** Keys bosun has natively for a container but the release never had. */
const NATIVE_ONLY_CONTAINER_KEYS = new Set(['env', 'healthcheck', 'stop_timeout']);

function convertContainer(ctx: Ctx, c: Obj, at: PathSegment[], nativeAt: PathSegment[]): Obj {
  const out: Obj = {};
  for (const [k, v] of Object.entries(c)) {
    const rule = CONTAINER_PROPERTIES[k];
    if (rule === undefined) {
      if (NATIVE_ONLY_CONTAINER_KEYS.has(k)) {
        out[k] = v;
        continue;
      }
      const near = nearestKey(k, Object.keys(CONTAINER_PROPERTIES));
      ctx.problems.warning(
        [...at, k],
        `"${k}" is not a property of the docker release's containers job, which ignores it, and so does bosun${near ? `; did you mean "${near}"?` : ''}`,
        true,
      );
      continue;
    }
    if ('ignored' in rule) {
      ctx.problems.warning([...at, k], `"${k}" is ignored: ${rule.ignored}`, true);
      continue;
    }
    if (k === 'networking') {
      // The release's first versions: networking: false ran the container without a network.
      if (v === false || v === 'false') {
        out['net'] = 'none';
        ctx.mappings.push({ native: [...nativeAt, 'net'], original: [...at, k] });
      }
      continue;
    }
    out[rule.to] = coerce(v, rule.coerce);
  }
  return out;
}

/** Flattens `env: {http_proxy}` into `env.http_proxy` (the spec's dotted names), with paths. */
function flatten(props: Obj, base: PathSegment[]): Array<{ key: string; value: unknown; at: PathSegment[] }> {
  const out: Array<{ key: string; value: unknown; at: PathSegment[] }> = [];
  for (const [k, v] of Object.entries(props)) {
    if (['env', 'ulimit', 'vm', 'daemon', 'containers'].includes(k) && isObj(v)) {
      for (const [sub, x] of Object.entries(v)) out.push({ key: `${k}.${sub}`, value: x, at: [...base, k, sub] });
    } else out.push({ key: k, value: v, at: [...base, k] });
  }
  return out;
}

function convertDaemon(
  ctx: Ctx,
  find: (key: string) => Found | undefined,
  job: JobRef,
  nativeAt: PathSegment[],
): Obj {
  const entries: Array<{ key: string; value: unknown; at: PathSegment[] }> = [];
  // The release before v30 named its properties docker.*; from v30 on they are the job's own keys.
  const prefixed = find('docker');
  if (prefixed && isObj(prefixed.value)) entries.push(...flatten(prefixed.value, prefixed.at));
  const env = find('env');
  if (env && isObj(env.value)) entries.push(...flatten({ env: env.value }, env.at.slice(0, -1)));
  if (job.properties?.['containers'] !== undefined)
    ctx.problems.warning(
      [...job.at, 'properties', 'containers'],
      'containers under the docker job are not run: the release (and bosun) read them from the "containers" job\'s properties (or the group\'s or deployment\'s); move them there',
      true,
    );
  if (job.properties) {
    const own = Object.fromEntries(
      Object.entries(job.properties).filter(([k]) => k !== 'docker' && k !== 'env' && k !== 'containers'),
    );
    entries.push(...flatten(own, [...job.at, 'properties']));
  }
  const out: Obj = {};
  for (const e of entries) {
    const key = e.key.startsWith('daemon.logrotate') ? 'daemon.logrotate' : e.key.startsWith('containers.logrotate') ? 'containers.logrotate' : e.key;
    const rule = DOCKER_JOB_PROPERTIES[key];
    if (rule === undefined) {
      const near = nearestKey(key, Object.keys(DOCKER_JOB_PROPERTIES));
      ctx.problems.warning(
        e.at,
        `"${key}" is not a property of the docker release's docker job, which ignores it, and so does bosun${near ? `; did you mean "${near}"?` : ''}`,
        true,
      );
      continue;
    }
    if ('ignored' in rule) {
      ctx.problems.warning(e.at, `docker job property "${key}" is ignored: ${rule.ignored}`, true);
      continue;
    }
    const value = coerce(e.value, rule.coerce);
    if (rule.to.startsWith('env.')) {
      const name = rule.to.slice(4);
      const envOut = (out['env'] ??= {}) as Obj;
      envOut[name] = value;
      envOut[name.toLowerCase()] = value;
      ctx.mappings.push({ native: [...nativeAt, 'env', name], original: e.at });
      ctx.mappings.push({ native: [...nativeAt, 'env', name.toLowerCase()], original: e.at });
      continue;
    }
    out[rule.to] = value;
    ctx.mappings.push({ native: [...nativeAt, rule.to], original: e.at });
  }
  return out;
}

/** v1: each resource pool's `stemcell: {name, version}` becomes a v2 stemcell aliased by the pool's name. */
function resourcePoolStemcells(ctx: Ctx): Obj[] {
  const pools = Array.isArray(ctx.root['resource_pools']) ? (ctx.root['resource_pools'] as unknown[]) : [];
  const out: Obj[] = [];
  pools.forEach((rp, i) => {
    if (!isObj(rp) || typeof rp['name'] !== 'string' || !isObj(rp['stemcell'])) return;
    const s = rp['stemcell'];
    const at: PathSegment[] = ['resource_pools', i, 'stemcell'];
    ctx.mappings.push({ native: ['stemcells', out.length], original: at });
    out.push({ alias: rp['name'], ...pick(s, ['os', 'name']), version: s['version'] ?? 'latest' });
  });
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
