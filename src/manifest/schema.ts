/**
 * The native manifest shape, as zod schemas. The schemas check types and value syntaxes only and
 * keep values as written (no unit conversion, no defaults), so that a validated manifest
 * serialises back to what the user wrote; the plan converts units. Checks that need more than one
 * value (duplicates, port clashes, references, cycles) live in semantic-checks.ts.
 */
import { z } from 'zod';
import {
  describe,
  parseBytes,
  parseDevice,
  parseDurationMs,
  parseExposedPorts,
  parseKeyValue,
  parseMaxInFlight,
  parsePortBindings,
  parseUlimit,
  parseWatchTime,
  splitWords,
  type Parsed,
} from './units.js';
import { parseBindVolume, parseEnvFile, parseStoreDir, parseVolume } from './volumes.js';
import { parseStemcellVersion } from './stemcells.js';

/** A field checked by one of units.ts' parsers, so that its error is a sentence, not "Invalid input". */
function checked<T>(parse: (v: unknown) => Parsed<unknown> | string | null) {
  return z.custom<T>().superRefine((v, ctx) => {
    const r = parse(v);
    const message = typeof r === 'string' ? r : r?.error;
    if (message !== undefined && message !== null) ctx.addIssue({ code: 'custom', message });
  });
}

type Scalar = string | number | boolean;

function stringOrWords(v: unknown): string | null {
  if (typeof v === 'string') return splitWords(v).error ?? null;
  if (Array.isArray(v) && v.every((x) => typeof x === 'string' || typeof x === 'number')) return null;
  return `expected a string or a list of strings, got ${describe(v)}`;
}

function scalarMap(what: string) {
  return (v: unknown): string | null => {
    if (!v || typeof v !== 'object' || Array.isArray(v))
      return `expected a map of ${what}, got ${describe(v)}`;
    for (const [k, x] of Object.entries(v)) {
      if (x !== null && typeof x !== 'string' && typeof x !== 'number' && typeof x !== 'boolean') {
        return `the value of "${k}" must be a string, number or boolean, got ${describe(x)}`;
      }
    }
    return null;
  };
}

/** A map, or the release's list of "k=v" strings. */
function mapOrPairs(what: string) {
  const asMap = scalarMap(what);
  return (v: unknown): string | null => {
    if (Array.isArray(v)) {
      for (const x of v) {
        const r = parseKeyValue(x, what);
        if (r.error) return r.error;
      }
      return null;
    }
    return asMap(v);
  };
}

function envMap(v: unknown): string | null {
  const r = scalarMap('environment variables')(v);
  if (r) return r;
  for (const k of Object.keys(v as object))
    if (k === '' || k.includes('='))
      return `"${k}" is not a valid environment variable name (it must not be empty or contain "=")`;
  return null;
}

const bytes = checked<string | number>((v) => parseBytes(v));
const duration = checked<string>((v) => parseDurationMs(v));
const stringList = z.array(z.string());
const scalar = checked<string | number>((v) =>
  typeof v === 'string' || typeof v === 'number' ? null : `expected a string or a number, got ${describe(v)}`,
);

/** The most instances one group may have (each is a VM). */
export const MAX_INSTANCES_PER_GROUP = 10_000;

/** `always`, `unless-stopped`, `on-failure`, `on-failure:N` or `no` (Docker's syntax). */
export function parseRestart(v: unknown): string | null {
  const help = 'write "always", "unless-stopped", "on-failure", "on-failure:N" (N restarts at most) or "no"';
  if (v === false) return null;
  if (typeof v !== 'string') return `expected a restart policy, got ${describe(v)}; ${help}`;
  if (/^(always|unless-stopped|on-failure|no)$/.test(v)) return null;
  if (/^on-failure:\d+$/.test(v)) return null;
  return `${describe(v)} is not a restart policy; ${help}`;
}

const DOCKER_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;
const IMAGE_REF = /^[a-z0-9][a-z0-9._\-/:@]*$/i;

export const healthcheckSchema = z.strictObject({
  test: checked<string | string[]>(stringOrWords),
  interval: duration.optional(),
  timeout: duration.optional(),
  retries: z.number().int().min(0).optional(),
  start_period: duration.optional(),
});

export const containerSchema = z.strictObject({
  name: z
    .string()
    .regex(
      DOCKER_NAME,
      'a container name must start with a letter or digit, be at least 2 characters and contain only letters, digits, "_", "." and "-"',
    ),
  image: z
    .string()
    .regex(
      IMAGE_REF,
      'not a valid image reference; write e.g. "redis:7" or "registry.example.com/team/app:1.2"',
    ),
  command: checked<string | string[]>(stringOrWords).optional(),
  entrypoint: checked<string | string[]>(stringOrWords).optional(),
  env: checked<Record<string, Scalar | null>>(envMap).optional(),
  env_vars: z.array(checked<string>((v) => parseKeyValue(v, 'environment variable'))).optional(),
  env_file: checked<string | string[]>(parseEnvFile).optional(),
  bind_ports: z.array(checked<string | number>(parsePortBindings)).optional(),
  expose_ports: z.array(checked<string | number>(parseExposedPorts)).optional(),
  volumes: z.array(checked<string>(parseVolume)).optional(),
  bind_volumes: z.array(checked<string>(parseBindVolume)).optional(),
  volumes_from: stringList.optional(),
  links: stringList.optional(),
  depends_on: stringList.optional(),
  dockerfile: z.string().min(1, 'the dockerfile is empty').optional(),
  memory: bytes.optional(),
  memory_swap: checked<string | number>((v) => parseBytes(v, { allowMinusOne: true })).optional(),
  memory_reservation: bytes.optional(),
  memory_swappiness: z.number().int().min(0).max(100).optional(),
  kernel_memory: bytes.optional(),
  cpu_shares: z.number().int().min(0).optional(),
  cpu_quota: z.number().int().min(-1).optional(),
  cpu_period: z.number().int().min(1000).max(1_000_000).optional(),
  blkio_weight: z
    .number()
    .int()
    .refine((n) => n === 0 || (n >= 10 && n <= 1000), 'blkio_weight must be 0 or between 10 and 1000')
    .optional(),
  cap_adds: stringList.optional(),
  cap_drops: stringList.optional(),
  privileged: z.boolean().optional(),
  read_only: z.boolean().optional(),
  oom_kill_disable: z.boolean().optional(),
  restart: checked<string | false>(parseRestart).optional(),
  user: scalar.optional(),
  group_adds: z.array(scalar).optional(),
  workdir: z.string().startsWith('/', 'workdir must be an absolute path inside the container').optional(),
  hostname: z
    .string()
    .regex(
      /^[a-zA-Z0-9][a-zA-Z0-9._-]*$/,
      'not a valid hostname; use letters, digits, ".", "-" and "_", starting with a letter or digit',
    )
    .optional(),
  mac_address: z
    .string()
    .regex(/^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/, 'not a MAC address; write e.g. "02:42:ac:11:00:02"')
    .optional(),
  net: z
    .string()
    .regex(
      /^(bridge|host|none|container:[a-zA-Z0-9][a-zA-Z0-9_.-]+)$/,
      'net must be "bridge", "host", "none" or "container:NAME" (a container of the same group); a VM has no other Docker networks',
    )
    .optional(),
  dns: stringList.optional(),
  dns_search: stringList.optional(),
  dns_options: stringList.optional(),
  labels: checked<Record<string, Scalar | null> | string[]>(mapOrPairs('labels')).optional(),
  log_driver: z.string().optional(),
  log_options: checked<Record<string, Scalar | null> | string[]>(mapOrPairs('log options')).optional(),
  ulimits: z.array(checked<string | { name: string; soft: number; hard?: number }>(parseUlimit)).optional(),
  devices: z.array(checked<string>(parseDevice)).optional(),
  security_options: stringList.optional(),
  stop_signal: z
    .string()
    .regex(/^(SIG[A-Z0-9]+|[0-9]+)$/, 'write a signal name like "SIGTERM" or a number')
    .optional(),
  stop_timeout: checked<number | string>((v) =>
    typeof v === 'number'
      ? Number.isInteger(v) && v >= 0
        ? null
        : 'stop_timeout must be a whole number of seconds or a duration like "30s"'
      : parseDurationMs(v),
  ).optional(),
  store_dir: checked<string>(parseStoreDir).optional(),
  healthcheck: healthcheckSchema.optional(),
});

export const dockerDaemonSchema = z.strictObject({
  storage_driver: z.string().optional(),
  storage_options: stringList.optional(),
  insecure_registries: stringList.optional(),
  registry_mirrors: stringList.optional(),
  registry_ca_cert: z
    .array(z.strictObject({ domain_name: z.string().min(1), ca_cert: z.string().min(1) }))
    .optional(),
  log_driver: z.string().optional(),
  log_options: checked<Record<string, Scalar | null> | string[]>(mapOrPairs('log options')).optional(),
  log_level: z.enum(['debug', 'info', 'warn', 'error', 'fatal']).optional(),
  dns: stringList.optional(),
  dns_options: stringList.optional(),
  dns_search: stringList.optional(),
  mtu: z.number().int().min(68).max(65535).optional(),
  labels: checked<Record<string, Scalar | null> | string[]>(mapOrPairs('labels')).optional(),
  debug: z.boolean().optional(),
  live_restore: z.boolean().optional(),
  default_ulimits: z.array(checked<string>(parseUlimit)).optional(),
  exec_options: stringList.optional(),
  icc: z.boolean().optional(),
  ip_masq: z.boolean().optional(),
  iptables: z.boolean().optional(),
  ip_forward: z.boolean().optional(),
  ipv6: z.boolean().optional(),
  userland_proxy: z.boolean().optional(),
  selinux_enable: z.boolean().optional(),
  ip: z.string().optional(),
  default_gateway: z.string().optional(),
  default_gateway_v6: z.string().optional(),
  env: checked<Record<string, Scalar | null>>(envMap).optional(),
});

function persistentDisk(v: unknown): string | null {
  const help = 'write a size in MiB like 1024, or {size: 1024, cloud_properties: {...}}';
  if (typeof v === 'number')
    return Number.isInteger(v) && v >= 0
      ? null
      : `persistent_disk must be a whole number of MiB (0 or more), got ${v}; ${help}`;
  if (v && typeof v === 'object' && !Array.isArray(v)) {
    const o = v as Record<string, unknown>;
    const extra = Object.keys(o).filter((k) => k !== 'size' && k !== 'cloud_properties');
    if (extra.length > 0) return `unknown key "${extra[0]}" in persistent_disk; ${help}`;
    if (typeof o['size'] !== 'number' || !Number.isInteger(o['size']) || o['size'] < 0)
      return `persistent_disk.size must be a whole number of MiB, got ${describe(o['size'])}`;
    const cp = o['cloud_properties'];
    if (cp !== undefined && (!cp || typeof cp !== 'object' || Array.isArray(cp)))
      return 'persistent_disk.cloud_properties must be a map';
    return null;
  }
  return `expected a size in MiB, got ${describe(v)}; ${help}`;
}

export const networkSchema = z.strictObject({
  name: z.string(),
  static_ips: stringList.optional(),
  default: stringList.optional(),
});

export const instanceGroupSchema = z.strictObject({
  name: z
    .string()
    .regex(
      /^[a-zA-Z0-9][a-zA-Z0-9_-]*$/,
      'a group name must start with a letter or digit and contain only letters, digits, "_" and "-"',
    ),
  instances: z
    .number()
    .int('instances must be a whole number')
    .min(0, 'instances must be 0 or more')
    .max(
      MAX_INSTANCES_PER_GROUP,
      `instances must be at most ${MAX_INSTANCES_PER_GROUP} per instance group; split a bigger fleet into several groups`,
    ),
  persistent_disk: checked<number | { size: number; cloud_properties?: Record<string, unknown> }>(
    persistentDisk,
  ).optional(),
  /** Names in the director's cloud config (cloud-config-resolve.ts). */
  vm_type: z.string().optional(),
  vm_extensions: z.array(z.string().min(1)).optional(),
  azs: z.array(z.string().min(1)).min(1, 'azs is empty; name at least one AZ of the cloud config, or leave azs out').optional(),
  persistent_disk_type: z.string().min(1).optional(),
  /** The alias of one of the manifest's `stemcells` (stemcells.ts). */
  stemcell: z.string().min(1).optional(),
  cloud_properties: z.record(z.string(), z.unknown()).optional(),
  networks: z.array(networkSchema).optional(),
  docker: dockerDaemonSchema.optional(),
  containers: z.array(containerSchema),
});

export const updateSchema = z.strictObject({
  canaries: z.number().int().min(0, 'canaries must be 0 or more').optional(),
  max_in_flight: checked<number | string>(parseMaxInFlight).optional(),
  canary_watch_time: checked<number | string>(parseWatchTime).optional(),
  update_watch_time: checked<number | string>(parseWatchTime).optional(),
  serial: z.boolean().optional(),
});

/** BOSH v2's stemcell reference: by `os` or by `name` (stemcells.ts checks that one is given). */
export const stemcellSchema = z.strictObject({
  alias: z.string().min(1),
  os: z.string().min(1).optional(),
  name: z.string().min(1).optional(),
  version: checked<string | number>(parseStemcellVersion),
});

export const manifestSchema = z.strictObject({
  name: z
    .string()
    .regex(
      /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/,
      'a deployment name must start with a letter or digit and contain only letters, digits, "_", "." and "-"',
    ),
  update: updateSchema.optional(),
  stemcells: z.array(stemcellSchema).optional(),
  /** Service discovery aliases: alias name → one of this deployment's names (dns-aliases.ts checks both). */
  dns_aliases: z.record(z.string(), z.string()).optional(),
  instance_groups: z.array(instanceGroupSchema),
});

export type NativeManifest = z.output<typeof manifestSchema>;
export type NativeInstanceGroup = z.output<typeof instanceGroupSchema>;
export type NativeContainer = z.output<typeof containerSchema>;
export type NativeDockerDaemon = z.output<typeof dockerDaemonSchema>;
export type NativeUpdate = z.output<typeof updateSchema>;

/** The keys each kind of map accepts, for "did you mean" suggestions. */
export const KNOWN_KEYS = {
  manifest: Object.keys(manifestSchema.shape),
  update: Object.keys(updateSchema.shape),
  group: Object.keys(instanceGroupSchema.shape),
  docker: Object.keys(dockerDaemonSchema.shape),
  container: Object.keys(containerSchema.shape),
  healthcheck: Object.keys(healthcheckSchema.shape),
  network: Object.keys(networkSchema.shape),
  stemcell: Object.keys(stemcellSchema.shape),
} as const;

/** Which kind of map a path points at (the schema mirrors the YAML nesting). */
export function mapKindAt(path: ReadonlyArray<PropertyKey>): keyof typeof KNOWN_KEYS | null {
  const names = path.filter((s): s is string => typeof s === 'string');
  const last = names[names.length - 1];
  const endsWithIndex = typeof path[path.length - 1] === 'number';
  if (path.length === 0) return 'manifest';
  if (last === 'update' && !endsWithIndex) return 'update';
  if (last === 'instance_groups' && endsWithIndex) return 'group';
  if (last === 'docker' && !endsWithIndex) return 'docker';
  if (last === 'containers' && endsWithIndex) return 'container';
  if (last === 'healthcheck' && !endsWithIndex) return 'healthcheck';
  if (last === 'networks' && endsWithIndex) return 'network';
  if (last === 'stemcells' && endsWithIndex && path.length === 2) return 'stemcell';
  return null;
}
