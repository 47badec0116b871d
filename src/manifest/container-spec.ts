/**
 * Turns one validated manifest container into its ContainerSpec: the resolved image, the Docker
 * Engine API create body, the mounts on the persistent disk and its hash. Pure.
 */
import type {
  ContainerSpec,
  DockerCreateBody,
  DockerHostConfig,
  HealthcheckSpec,
  MountSpec,
} from '../common/contracts/instance-spec.js';
import type { NativeContainer } from './schema.js';
import { canonicalJson, sha256Hex } from './canonical-json.js';
import { dependenciesOf } from './semantic-checks.js';
import { crossVmLinksOf, linkEnvironment, type LinkPort } from './cross-vm-links.js';
import {
  parseBytes,
  parseDevice,
  parseDurationMs,
  parseExposedPorts,
  parseKeyValue,
  parsePortBindings,
  parseUlimit,
  splitWords,
  type Parsed,
} from './units.js';
import {
  parseBindVolume,
  parseEnvFile,
  parseStoreDir,
  parseVolume,
  storePathFor,
  type ParsedVolume,
} from './volumes.js';

const NS_PER_MS = 1_000_000;

/** Validation already proved every value parses; a failure here is a bug, not a user error. */
function must<T>(p: Parsed<T>): T {
  if (p.error !== undefined)
    throw new Error(`manifest value passed validation but does not parse: ${p.error}`);
  return p.value;
}

function words(v: string | Array<string | number> | undefined): string[] | undefined {
  if (v === undefined) return undefined;
  return typeof v === 'string' ? must(splitWords(v)) : v.map(String);
}

type ScalarMap = Record<string, string | number | boolean | null> | string[];

/** A map or a list of "k=v" strings as a string map. */
export function toStringMap(v: ScalarMap | undefined): Record<string, string> | undefined {
  if (v === undefined) return undefined;
  if (Array.isArray(v)) return Object.fromEntries(v.map((e) => must(parseKeyValue(e, 'key=value pair'))));
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, x === null ? '' : String(x)]));
}

/** env, then env_vars, then env_file; values are kept whole (commas and newlines included). */
export function environmentOf(c: NativeContainer): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const [k, v] of Object.entries(c.env ?? {})) out.push([k, v === null ? '' : String(v)]);
  for (const e of c.env_vars ?? []) out.push(must(parseKeyValue(e, 'environment variable')));
  if (c.env_file !== undefined) out.push(...must(parseEnvFile(c.env_file)));
  return out;
}

/** `repo[:tag]` → `repo:<tag>-<hash12>`, so that a changed Dockerfile gives a new image. */
export function builtImageName(image: string, hash: string): string {
  const slash = image.lastIndexOf('/');
  const colon = image.lastIndexOf(':');
  const hasTag = colon > slash;
  const repo = hasTag ? image.slice(0, colon) : image;
  const tag = hasTag ? image.slice(colon + 1) : 'latest';
  return `${repo}:${tag}-${hash.slice(0, 12)}`;
}

function healthcheckOf(c: NativeContainer): HealthcheckSpec | undefined {
  const h = c.healthcheck;
  if (!h) return undefined;
  let test: string[];
  if (typeof h.test === 'string') test = h.test.trim() === 'NONE' ? ['NONE'] : ['CMD-SHELL', h.test];
  else if (['CMD', 'CMD-SHELL', 'NONE'].includes(h.test[0] ?? '')) test = h.test.map(String);
  else test = ['CMD', ...h.test.map(String)];
  const ms = (v: string | undefined, dflt: number): number =>
    v === undefined ? dflt : must(parseDurationMs(v));
  return {
    test,
    intervalMs: ms(h.interval, 30_000),
    timeoutMs: ms(h.timeout, 30_000),
    retries: h.retries ?? 3,
    startPeriodMs: ms(h.start_period, 0),
  };
}

function mountsOf(c: NativeContainer): MountSpec[] {
  const storeDir = c.store_dir === undefined ? '' : must(parseStoreDir(c.store_dir));
  const out: MountSpec[] = [];
  const add = (v: ParsedVolume): void => {
    if (v.vmPath !== undefined) {
      // Directories of the VM itself are mounted read-only (the director's host-path policy).
      out.push({ source: { kind: 'host', path: v.vmPath }, target: v.target, readOnly: true });
      return;
    }
    const path =
      v.hostPath === undefined
        ? storePathFor(storeDir, c.name, v.target)
        : [v.fromStoreRoot ? '' : storeDir, v.hostPath].filter((s) => s !== '').join('/');
    out.push({ source: { kind: 'store', path }, target: v.target, readOnly: v.readOnly });
  };
  for (const v of c.bind_volumes ?? []) add(must(parseBindVolume(v)));
  for (const v of c.volumes ?? []) add(must(parseVolume(v)));
  return out;
}

function bytes(v: string | number | undefined, allowMinusOne = false): number | undefined {
  return v === undefined ? undefined : must(parseBytes(v, { allowMinusOne }));
}

function hostConfigOf(c: NativeContainer): DockerHostConfig {
  const hc: DockerHostConfig = { RestartPolicy: { Name: 'no' } };
  if (c.bind_ports?.length) {
    const pb: NonNullable<DockerHostConfig['PortBindings']> = {};
    for (const b of c.bind_ports.flatMap((p) => must(parsePortBindings(p)))) {
      const key = `${b.containerPort}/${b.protocol}`;
      (pb[key] ??= []).push({
        HostIp: b.hostIp ?? '',
        HostPort: b.hostPort === undefined ? '' : String(b.hostPort),
      });
    }
    hc.PortBindings = pb;
  }
  // GROUP/CONTAINER[:ALIAS] links are cross-VM (DNS names and variables), not Docker links.
  const dockerLinks = (c.links ?? []).filter((l) => !l.includes('/'));
  if (dockerLinks.length) hc.Links = dockerLinks.map((l) => (l.includes(':') ? l : `${l}:${l}`));
  if (c.volumes_from?.length) hc.VolumesFrom = [...c.volumes_from];
  const set = <K extends keyof DockerHostConfig>(k: K, v: DockerHostConfig[K] | undefined): void => {
    if (v !== undefined) hc[k] = v;
  };
  set('Memory', bytes(c.memory));
  set('MemorySwap', bytes(c.memory_swap, true));
  set('MemoryReservation', bytes(c.memory_reservation));
  set('MemorySwappiness', c.memory_swappiness);
  set('KernelMemory', bytes(c.kernel_memory));
  set('CpuShares', c.cpu_shares);
  set('CpuQuota', c.cpu_quota);
  set('CpuPeriod', c.cpu_period);
  set('BlkioWeight', c.blkio_weight);
  set('CapAdd', c.cap_adds);
  set('CapDrop', c.cap_drops);
  set('Privileged', c.privileged);
  set('ReadonlyRootfs', c.read_only);
  set('OomKillDisable', c.oom_kill_disable);
  set('Dns', c.dns);
  set('DnsSearch', c.dns_search);
  set('DnsOptions', c.dns_options);
  set('GroupAdd', c.group_adds?.map(String));
  set('SecurityOpt', c.security_options);
  set('NetworkMode', c.net);
  if (c.log_driver !== undefined || c.log_options !== undefined)
    hc.LogConfig = { Type: c.log_driver ?? '', Config: toStringMap(c.log_options) ?? {} };
  set(
    'Ulimits',
    c.ulimits?.map((u) => must(parseUlimit(u))),
  );
  set(
    'Devices',
    c.devices?.map((d) => must(parseDevice(d))),
  );
  return hc;
}

/** What a container's cross-VM links need: the deployment's name and the host ports of each target. */
export interface LinkContext {
  deployment: string;
  portsOf(group: string, container: string): LinkPort[];
}

/** The link variables of a container's cross-VM links, except those its own env sets. */
function linkEnvOf(c: NativeContainer, links: LinkContext | undefined, own: ReadonlySet<string>): Array<[string, string]> {
  if (links === undefined) return [];
  return crossVmLinksOf(c.links)
    .flatMap((l) => linkEnvironment(links.deployment, l, links.portsOf(l.group, l.container)))
    .filter(([k]) => !own.has(k));
}

function createBodyOf(c: NativeContainer, health: HealthcheckSpec | undefined, links?: LinkContext): DockerCreateBody {
  const body: DockerCreateBody = { HostConfig: hostConfigOf(c) };
  const cmd = words(c.command);
  if (cmd) body.Cmd = cmd;
  const entrypoint = words(c.entrypoint);
  if (entrypoint) body.Entrypoint = entrypoint;
  const own = environmentOf(c);
  const env = [...linkEnvOf(c, links, new Set(own.map(([k]) => k))), ...own];
  if (env.length) body.Env = env.map(([k, v]) => `${k}=${v}`);
  if (c.user !== undefined) body.User = String(c.user);
  if (c.workdir !== undefined) body.WorkingDir = c.workdir;
  if (c.hostname !== undefined) body.Hostname = c.hostname;
  if (c.mac_address !== undefined) body.MacAddress = c.mac_address;
  const exposed: Record<string, Record<string, never>> = {};
  for (const e of (c.expose_ports ?? []).flatMap((p) => must(parseExposedPorts(p))))
    exposed[`${e.port}/${e.protocol}`] = {};
  for (const b of (c.bind_ports ?? []).flatMap((p) => must(parsePortBindings(p))))
    exposed[`${b.containerPort}/${b.protocol}`] = {};
  if (Object.keys(exposed).length) body.ExposedPorts = exposed;
  const labels = toStringMap(c.labels);
  if (labels) body.Labels = labels;
  if (c.stop_signal !== undefined) body.StopSignal = c.stop_signal;
  if (c.stop_timeout !== undefined)
    body.StopTimeout =
      typeof c.stop_timeout === 'number'
        ? c.stop_timeout
        : Math.ceil(must(parseDurationMs(c.stop_timeout)) / 1000);
  if (health) {
    body.Healthcheck = {
      Test: health.test,
      Interval: health.intervalMs * NS_PER_MS,
      Timeout: health.timeoutMs * NS_PER_MS,
      Retries: health.retries,
      StartPeriod: health.startPeriodMs * NS_PER_MS,
    };
  }
  return body;
}

/**
 * The manifest's `restart`, for bosun's agent (Docker's own policy stays "no"): `no` (YAML 1.1
 * reads a bare `no` as false), `on-failure[:N]`, `always`/`unless-stopped`.
 */
function restartOf(c: NativeContainer): Pick<ContainerSpec, 'restartPolicy' | 'restartMaxRetries'> {
  const r = c.restart;
  if (r === undefined) return {};
  if (r === false || r === 'no') return { restartPolicy: 'no' };
  if (r === 'always' || r === 'unless-stopped') return { restartPolicy: 'always' };
  const m = /^on-failure(?::(\d+))?$/.exec(r);
  if (m?.[1] !== undefined) return { restartPolicy: 'on-failure', restartMaxRetries: Number(m[1]) };
  return { restartPolicy: 'on-failure' };
}

export function containerSpecOf(c: NativeContainer, groupContainerNames: ReadonlySet<string>, links?: LinkContext): ContainerSpec {
  let image = c.image;
  let build: ContainerSpec['build'];
  if (c.dockerfile !== undefined) {
    const hash = sha256Hex(c.dockerfile);
    build = { dockerfile: c.dockerfile, hash };
    image = builtImageName(c.image, hash);
  }
  const spec: Omit<ContainerSpec, 'specHash'> = {
    name: c.name,
    image,
    dependsOn: dependenciesOf(c).filter((d) => groupContainerNames.has(d)),
    mounts: mountsOf(c),
    create: createBodyOf(c, healthcheckOf(c), links),
  };
  if (build) spec.build = build;
  Object.assign(spec, restartOf(c));
  return { ...spec, specHash: sha256Hex(canonicalJson(spec)) };
}
