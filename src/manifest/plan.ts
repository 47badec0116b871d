/**
 * The desired state of a deployment: a pure function from a validated native manifest to one
 * InstanceSpec per instance, plus the update policy with its numbers parsed.
 */
import type { ContainerSpec, DockerDaemonSpec, InstanceSpec } from '../common/contracts/instance-spec.js';
import type { NativeDockerDaemon, NativeInstanceGroup, NativeManifest } from './schema.js';
import { canonicalJson, sha256Hex } from './canonical-json.js';
import { containerSpecOf, toStringMap, type LinkContext } from './container-spec.js';
import { hostPortsOf } from './cross-vm-links.js';
import { parseMaxInFlight, parseWatchTime, resolveMaxInFlight, type MaxInFlight } from './units.js';
import { groupStemcellOf, type StemcellChoice } from './stemcells.js';
import type { CloudConfig } from './cloud-config.js';
import { resolveGroup, type CloudConfigRefs, type Placement } from './cloud-config-resolve.js';
import { NotFoundError } from '../common/errors.js';

export interface WatchTime {
  minMs: number;
  maxMs: number;
}

export interface UpdatePolicy {
  canaries: number;
  /** As written; each group's resolved number is GroupPlan.maxInFlight. */
  maxInFlight: MaxInFlight;
  canaryWatchTime: WatchTime;
  updateWatchTime: WatchTime;
  serial: boolean;
}

export interface NetworkPlan {
  name: string;
  staticIps: string[];
  default: string[];
}

export interface GroupPlan {
  name: string;
  instanceCount: number;
  /** update.max_in_flight resolved for this group's size (BOSH: floor(N% × size), at least 1). */
  maxInFlight: number;
  persistentDiskMiB: number;
  persistentDiskCloudProperties: Record<string, unknown>;
  vmType: string | null;
  cloudProperties: Record<string, unknown>;
  /** The stemcell the group's VMs boot, as the manifest names it (the director resolves it). */
  stemcell: StemcellChoice;
  networks: NetworkPlan[];
  /** What the group names in the cloud config. */
  cloudConfigRefs: CloudConfigRefs;
  /** Per instance index: its AZ and its VM's cloud properties (set when planned against a cloud config, or its absence). */
  placements?: Placement[];
  instances: InstanceSpec[];
}

export interface DeploymentPlan {
  name: string;
  update: UpdatePolicy;
  groups: GroupPlan[];
}

/** Gives each instance its stable id; the director keeps them across deploys. */
export type InstanceIdFn = (group: string, index: number) => string;

export const defaultInstanceId: InstanceIdFn = (group, index) => `${group}/${index}`;

export const DEFAULT_UPDATE = {
  canaries: 1,
  max_in_flight: 1,
  canary_watch_time: '1000-30000',
  update_watch_time: '1000-30000',
  serial: true,
} as const;

function parsedOrThrow<T>(p: { value?: T; error?: string }): T {
  if (p.value === undefined)
    throw new Error(`manifest value passed validation but does not parse: ${p.error ?? ''}`);
  return p.value;
}

export function updatePolicyOf(m: NativeManifest): UpdatePolicy {
  const u = m.update ?? {};
  return {
    canaries: u.canaries ?? DEFAULT_UPDATE.canaries,
    maxInFlight: parsedOrThrow(parseMaxInFlight(u.max_in_flight ?? DEFAULT_UPDATE.max_in_flight)),
    canaryWatchTime: parsedOrThrow(parseWatchTime(u.canary_watch_time ?? DEFAULT_UPDATE.canary_watch_time)),
    updateWatchTime: parsedOrThrow(parseWatchTime(u.update_watch_time ?? DEFAULT_UPDATE.update_watch_time)),
    serial: u.serial ?? DEFAULT_UPDATE.serial,
  };
}

/**
 * dockerd flags for the daemon options bosun passes through as the release did (each only when the
 * manifest sets it, so that dockerd's defaults stay dockerd's).
 */
function extraArgsOf(d: NativeDockerDaemon | undefined): string[] {
  if (!d) return [];
  const args: string[] = [];
  const flag = (name: string, v: boolean | undefined): void => {
    if (v !== undefined) args.push(`--${name}=${String(v)}`);
  };
  if (d.log_level !== undefined) args.push(`--log-level=${d.log_level}`);
  for (const o of d.storage_options ?? []) args.push(`--storage-opt=${o}`);
  for (const o of d.dns_options ?? []) args.push(`--dns-opt=${o}`);
  for (const o of d.dns_search ?? []) args.push(`--dns-search=${o}`);
  for (const u of d.default_ulimits ?? []) args.push(`--default-ulimit=${u}`);
  for (const o of d.exec_options ?? []) args.push(`--exec-opt=${o}`);
  flag('icc', d.icc);
  flag('ip-masq', d.ip_masq);
  flag('iptables', d.iptables);
  flag('ip-forward', d.ip_forward);
  flag('ipv6', d.ipv6);
  flag('userland-proxy', d.userland_proxy);
  flag('selinux-enabled', d.selinux_enable);
  if (d.ip !== undefined) args.push(`--ip=${d.ip}`);
  if (d.default_gateway !== undefined) args.push(`--default-gateway=${d.default_gateway}`);
  if (d.default_gateway_v6 !== undefined) args.push(`--default-gateway-v6=${d.default_gateway_v6}`);
  return args;
}

export function dockerDaemonSpecOf(d: NativeDockerDaemon | undefined): DockerDaemonSpec {
  const spec: DockerDaemonSpec = {
    insecureRegistries: d?.insecure_registries ?? [],
    registryMirrors: d?.registry_mirrors ?? [],
    logOptions: toStringMap(d?.log_options) ?? {},
    dns: d?.dns ?? [],
    labels: Object.entries(toStringMap(d?.labels) ?? {}).map(([k, v]) => `${k}=${v}`),
    debug: d?.debug ?? false,
    liveRestore: d?.live_restore ?? false,
    extraArgs: extraArgsOf(d),
  };
  if (d?.storage_driver !== undefined) spec.storageDriver = d.storage_driver;
  if (d?.log_driver !== undefined) spec.logDriver = d.log_driver;
  if (d?.mtu !== undefined) spec.mtu = d.mtu;
  const env = toStringMap(d?.env);
  if (env && Object.keys(env).length > 0) spec.env = env;
  if (d?.registry_ca_cert?.length)
    spec.registryCaCerts = d.registry_ca_cert.map((c) => ({ domain: c.domain_name.trim().replace(/^"|"$/g, ''), caCert: c.ca_cert }));
  return spec;
}

export function persistentDiskOf(g: NativeInstanceGroup): {
  sizeMiB: number;
  cloudProperties: Record<string, unknown>;
} {
  const d = g.persistent_disk;
  if (d === undefined) return { sizeMiB: 0, cloudProperties: {} };
  if (typeof d === 'number') return { sizeMiB: d, cloudProperties: {} };
  return { sizeMiB: d.size, cloudProperties: d.cloud_properties ?? {} };
}

/** Dependencies first; otherwise manifest order (a stable topological sort). */
export function dependencyOrder(containers: ContainerSpec[]): ContainerSpec[] {
  const placed = new Set<string>();
  const out: ContainerSpec[] = [];
  const pending = [...containers];
  while (pending.length > 0) {
    const i = pending.findIndex((c) => c.dependsOn.every((d) => placed.has(d)));
    // Validation rejects cycles; if one slipped through, keep manifest order rather than loop.
    const [next] = pending.splice(i < 0 ? 0 : i, 1);
    if (!next) break;
    placed.add(next.name);
    out.push(next);
  }
  return out;
}

export function instanceSpecHash(spec: Omit<InstanceSpec, 'specHash'>): string {
  return sha256Hex(canonicalJson(spec));
}

export function cloudConfigRefsOf(g: NativeInstanceGroup): CloudConfigRefs {
  return {
    vmType: g.vm_type ?? null,
    vmExtensions: g.vm_extensions ?? [],
    azs: g.azs ?? [],
    persistentDiskType: g.persistent_disk_type ?? null,
    networks: (g.networks ?? []).map((n) => n.name),
  };
}

/**
 * `cloudConfig`: plan against the director's cloud config (null: it has none); every name it
 * does not define fails here, in one NotFoundError naming each group, key and the names that exist.
 * Left out, the plan does not resolve (placements unset).
 */
export function planDeployment(
  manifest: NativeManifest,
  options: { instanceId?: InstanceIdFn; cloudConfig?: CloudConfig | null } = {},
): DeploymentPlan {
  const instanceId = options.instanceId ?? defaultInstanceId;
  const update = updatePolicyOf(manifest);
  const links: LinkContext = {
    deployment: manifest.name,
    portsOf: (group, container) =>
      hostPortsOf(manifest.instance_groups.find((g) => g.name === group)?.containers.find((c) => c.name === container)?.bind_ports),
  };
  const problems: string[] = [];
  const groups = manifest.instance_groups.map((g): GroupPlan => {
    const refs = cloudConfigRefsOf(g);
    const resolved =
      options.cloudConfig === undefined ? null : resolveGroup(options.cloudConfig, g.name, refs, g.cloud_properties ?? {}, g.instances, problems);
    const disk = resolved?.disk ?? persistentDiskOf(g);
    const names = new Set(g.containers.map((c) => c.name));
    const containers = dependencyOrder(g.containers.map((c) => containerSpecOf(c, names, links)));
    const docker = dockerDaemonSpecOf(g.docker);
    const instances = Array.from({ length: g.instances }, (_, index): InstanceSpec => {
      const spec: Omit<InstanceSpec, 'specHash'> = {
        deployment: manifest.name,
        group: g.name,
        index,
        instanceId: instanceId(g.name, index),
        persistentDiskMiB: disk.sizeMiB,
        docker,
        containers,
      };
      return { ...spec, specHash: instanceSpecHash(spec) };
    });
    return {
      name: g.name,
      instanceCount: g.instances,
      maxInFlight: resolveMaxInFlight(update.maxInFlight, g.instances),
      persistentDiskMiB: disk.sizeMiB,
      persistentDiskCloudProperties: disk.cloudProperties,
      vmType: g.vm_type ?? null,
      cloudProperties: g.cloud_properties ?? {},
      stemcell: groupStemcellOf(manifest, g),
      networks: (g.networks ?? []).map((n) => ({
        name: n.name,
        staticIps: n.static_ips ?? [],
        default: n.default ?? [],
      })),
      cloudConfigRefs: refs,
      ...(resolved === null ? {} : { placements: resolved.placements }),
      instances,
    };
  });
  if (problems.length > 0) {
    throw new NotFoundError(`Deployment "${manifest.name}" cannot be deployed; nothing was changed. ${problems.join('; ')}. See \`bosun cloud-config\`.`);
  }
  return { name: manifest.name, update, groups };
}
