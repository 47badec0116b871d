/**
 * The desired state of one instance: what the plan produces from a manifest, what the director
 * stores as "last applied", and what the agent's `apply` action receives. It is fully resolved:
 * the agent needs nothing else from the manifest.
 */

/** Docker daemon options of an instance group (the manifest's `docker:` block). */
export interface DockerDaemonSpec {
  storageDriver?: string;
  insecureRegistries: string[];
  registryMirrors: string[];
  logDriver?: string;
  logOptions: Record<string, string>;
  dns: string[];
  mtu?: number;
  labels: string[];
  debug: boolean;
  liveRestore: boolean;
  /** Further dockerd flags, verbatim ("--flag=value"), for options bosun does not model. */
  extraArgs: string[];
  /** Environment of the dockerd process (the release's env.http_proxy, env.https_proxy, env.no_proxy). */
  env?: Record<string, string>;
  /** CA certificates of private registries: the agent writes each to /etc/docker/certs.d/<domain>/ca.crt. */
  registryCaCerts?: Array<{ domain: string; caCert: string }>;
}

/** Where a mount's host side lives. `store` paths are relative to the VM's persistent-disk mount. */
export type MountSource = { kind: 'store'; path: string } | { kind: 'host'; path: string };

export interface MountSpec {
  source: MountSource;
  /** Absolute path inside the container. */
  target: string;
  readOnly: boolean;
}

export interface HealthcheckSpec {
  /** Docker's form: ["CMD", ...], ["CMD-SHELL", "..."] or ["NONE"]. */
  test: string[];
  intervalMs: number;
  timeoutMs: number;
  retries: number;
  startPeriodMs: number;
}

export interface ImageBuildSpec {
  /** The inline Dockerfile text, kept literally (no `$` expansion). */
  dockerfile: string;
  /** sha256 hex of the Dockerfile text; part of `ContainerSpec.image` so a changed text is rebuilt. */
  hash: string;
}

/**
 * One container, resolved. `create` is the Docker Engine API "ContainerCreate" body except for
 * what the agent fills in itself: Image, Labels (bosun's own), and HostConfig.Binds (from `mounts`).
 */
export interface ContainerSpec {
  name: string;
  /** The image reference to run; for a built image `<repo>:<tag>-<hash12>` of the manifest's image name. */
  image: string;
  build?: ImageBuildSpec;
  dependsOn: string[];
  mounts: MountSpec[];
  create: DockerCreateBody;
  /**
   * The manifest's `restart`: whether bosun's agent restarts the container when it exits
   * ('always', the default when absent; 'on-failure': only after a non-zero exit; 'no': never).
   * Docker's own RestartPolicy stays "no" either way. Added optionally by the manifest part.
   */
  restartPolicy?: 'always' | 'on-failure' | 'no';
  /** With restartPolicy 'on-failure': restart at most this many times (`on-failure:N`), then give up (state failed). */
  restartMaxRetries?: number;
  /** sha256 of everything above: a container whose label differs from it is replaced. */
  specHash: string;
}

/** The subset of the Engine API ContainerCreate body bosun produces (names as the Engine API spells them). */
export interface DockerCreateBody {
  Cmd?: string[];
  Entrypoint?: string[];
  Env?: string[];
  User?: string;
  WorkingDir?: string;
  Hostname?: string;
  Domainname?: string;
  MacAddress?: string;
  ExposedPorts?: Record<string, Record<string, never>>;
  Labels?: Record<string, string>;
  StopSignal?: string;
  StopTimeout?: number;
  Healthcheck?: { Test: string[]; Interval: number; Timeout: number; Retries: number; StartPeriod: number };
  HostConfig: DockerHostConfig;
}

export interface DockerHostConfig {
  PortBindings?: Record<string, Array<{ HostIp?: string; HostPort: string }>>;
  Links?: string[];
  VolumesFrom?: string[];
  Memory?: number;
  MemorySwap?: number;
  MemoryReservation?: number;
  MemorySwappiness?: number;
  KernelMemory?: number;
  CpuShares?: number;
  CpuQuota?: number;
  CpuPeriod?: number;
  BlkioWeight?: number;
  CapAdd?: string[];
  CapDrop?: string[];
  Privileged?: boolean;
  ReadonlyRootfs?: boolean;
  OomKillDisable?: boolean;
  Dns?: string[];
  DnsSearch?: string[];
  DnsOptions?: string[];
  GroupAdd?: string[];
  SecurityOpt?: string[];
  LogConfig?: { Type: string; Config: Record<string, string> };
  Ulimits?: Array<{ Name: string; Soft: number; Hard: number }>;
  Devices?: Array<{ PathOnHost: string; PathInContainer: string; CgroupPermissions: string }>;
  NetworkMode?: string;
  /** bosun's agent restarts containers itself; Docker's own policy stays "no" unless the manifest asks. */
  RestartPolicy?: { Name: string; MaximumRetryCount?: number };
}

export interface InstanceSpec {
  deployment: string;
  group: string;
  index: number;
  /** Stable id of the instance (a uuid kept across VM replacements). */
  instanceId: string;
  /** 0 when the group has no persistent disk. */
  persistentDiskMiB: number;
  docker: DockerDaemonSpec;
  /** In dependency order: every container comes after the ones it depends on. */
  containers: ContainerSpec[];
  /** sha256 of the whole spec. */
  specHash: string;
}

/** Labels the agent puts on every container it creates, so that it recognises its own after a restart. */
export const CONTAINER_LABELS = {
  deployment: 'io.bosun.deployment',
  group: 'io.bosun.group',
  index: 'io.bosun.index',
  container: 'io.bosun.container',
  specHash: 'io.bosun.spec-hash',
} as const;
