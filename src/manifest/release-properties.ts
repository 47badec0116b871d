/**
 * Every property of the docker BOSH release's `docker` and `containers` jobs, across its history,
 * with what bosun does with it: mapped to a native key (with the value forms the release accepts
 * normalised), or ignored with a warning that says why. docs/manifest.md has the same table.
 */

/** How a release value is normalised before the native schema sees it. */
export type Coerce =
  /** A bare string becomes a one-item list (the release wraps it with Array()). */
  | 'list'
  /** As 'list', and entries are split on commas, as the release's templates do. */
  | 'list-split'
  /** A numeric string ("512") becomes a number. */
  | 'int'
  /** "true"/"false" strings become booleans. */
  | 'bool';

export type PropertyRule = { to: string; coerce?: Coerce } | { ignored: string };

const REMOTE_API =
  "bosun's agent drives dockerd over its unix socket and offers no remote Docker API (use `bosun ssh`)";
const NETWORK = "bosun sets up each VM's network and dockerd's bridge itself";

/** `docker` job properties; `docker.` prefixed (before v30) and bare (v30 on) names alike. */
export const DOCKER_JOB_PROPERTIES: Record<string, PropertyRule> = {
  storage_driver: { to: 'storage_driver' },
  storage_options: { to: 'storage_options', coerce: 'list' },
  insecure_registries: { to: 'insecure_registries', coerce: 'list' },
  registry_mirrors: { to: 'registry_mirrors', coerce: 'list' },
  registry_ca_cert: { to: 'registry_ca_cert' },
  log_driver: { to: 'log_driver' },
  log_options: { to: 'log_options', coerce: 'list' },
  log_level: { to: 'log_level' },
  dns_servers: { to: 'dns', coerce: 'list' },
  dns_options: { to: 'dns_options', coerce: 'list' },
  dns_search: { to: 'dns_search', coerce: 'list' },
  dns_domains: { to: 'dns_search', coerce: 'list' },
  mtu: { to: 'mtu', coerce: 'int' },
  labels: { to: 'labels', coerce: 'list' },
  debug: { to: 'debug', coerce: 'bool' },
  live_restore: { to: 'live_restore', coerce: 'bool' },
  default_ulimits: { to: 'default_ulimits', coerce: 'list' },
  exec_options: { to: 'exec_options', coerce: 'list' },
  icc: { to: 'icc', coerce: 'bool' },
  ip_masq: { to: 'ip_masq', coerce: 'bool' },
  iptables: { to: 'iptables', coerce: 'bool' },
  ip_forward: { to: 'ip_forward', coerce: 'bool' },
  ipv6: { to: 'ipv6', coerce: 'bool' },
  userland_proxy: { to: 'userland_proxy', coerce: 'bool' },
  ip: { to: 'ip' },
  default_gateway: { to: 'default_gateway' },
  default_gateway_v6: { to: 'default_gateway_v6' },
  selinux_enable: { to: 'selinux_enable', coerce: 'bool' },
  'env.http_proxy': { to: 'env.HTTP_PROXY' },
  'env.https_proxy': { to: 'env.HTTPS_PROXY' },
  'env.no_proxy': { to: 'env.NO_PROXY' },
  tcp_address: { ignored: REMOTE_API },
  tcp_port: { ignored: REMOTE_API },
  tls: { ignored: REMOTE_API },
  tls_verify: { ignored: REMOTE_API },
  tls_cacert: { ignored: REMOTE_API },
  tls_cert: { ignored: REMOTE_API },
  tls_key: { ignored: REMOTE_API },
  api_enable_cors: { ignored: REMOTE_API },
  api_cors_header: { ignored: REMOTE_API },
  bridge: { ignored: NETWORK },
  cidr_prefix: { ignored: NETWORK },
  flannel: { ignored: `${NETWORK}; flannel overlay networks are not supported` },
  store_dir: {
    ignored:
      "dockerd's data (images, layers) stays on the VM's ephemeral disk; container data lives on the persistent disk (bind_volumes, volumes)",
  },
  shared_mounts_enable: { ignored: "the VM's root mount propagation is set by bosun" },
  'ulimit.nofile': { ignored: "bosun's agent sets dockerd's process limits itself" },
  'vm.max_map_count': {
    ignored: 'a kernel setting of the whole host; bosun never changes the host kernel, set it on the host or in the stemcell',
  },
  user: { ignored: 'dockerd runs as root under the agent' },
  group: { ignored: "the socket is the agent's own; there is no vcap group" },
  exec_driver: { ignored: 'Docker removed exec drivers (use exec_options)' },
  disable_legacy_registry: { ignored: 'Docker removed the legacy registry' },
  'daemon.logrotate': { ignored: "dockerd's log is rotated by bosun's agent" },
  'containers.logrotate': { ignored: 'container logs follow log_driver and log_options' },
};

/** `containers` job: the keys of one entry of `properties.containers`. */
export const CONTAINER_PROPERTIES: Record<string, PropertyRule> = {
  name: { to: 'name' },
  image: { to: 'image' },
  command: { to: 'command' },
  entrypoint: { to: 'entrypoint' },
  env_vars: { to: 'env_vars', coerce: 'list' },
  env_file: { to: 'env_file' },
  bind_ports: { to: 'bind_ports', coerce: 'list-split' },
  expose_ports: { to: 'expose_ports', coerce: 'list-split' },
  volumes: { to: 'volumes', coerce: 'list-split' },
  bind_volumes: { to: 'bind_volumes', coerce: 'list-split' },
  volumes_from: { to: 'volumes_from', coerce: 'list-split' },
  links: { to: 'links', coerce: 'list-split' },
  depends_on: { to: 'depends_on', coerce: 'list-split' },
  dockerfile: { to: 'dockerfile' },
  memory: { to: 'memory' },
  memory_reservation: { to: 'memory_reservation' },
  memory_swap: { to: 'memory_swap' },
  memory_swappiness: { to: 'memory_swappiness', coerce: 'int' },
  kernel_memory: { to: 'kernel_memory' },
  cpu_shares: { to: 'cpu_shares', coerce: 'int' },
  cpu_period: { to: 'cpu_period', coerce: 'int' },
  cpu_quota: { to: 'cpu_quota', coerce: 'int' },
  blkio_weight: { to: 'blkio_weight', coerce: 'int' },
  cap_adds: { to: 'cap_adds', coerce: 'list-split' },
  cap_drops: { to: 'cap_drops', coerce: 'list-split' },
  devices: { to: 'devices', coerce: 'list-split' },
  privileged: { to: 'privileged', coerce: 'bool' },
  read_only: { to: 'read_only', coerce: 'bool' },
  oom_kill_disable: { to: 'oom_kill_disable', coerce: 'bool' },
  dns: { to: 'dns', coerce: 'list-split' },
  dns_options: { to: 'dns_options', coerce: 'list-split' },
  dns_search: { to: 'dns_search', coerce: 'list-split' },
  hostname: { to: 'hostname' },
  mac_address: { to: 'mac_address' },
  net: { to: 'net' },
  user: { to: 'user' },
  group_adds: { to: 'group_adds', coerce: 'list-split' },
  workdir: { to: 'workdir' },
  labels: { to: 'labels', coerce: 'list' },
  log_driver: { to: 'log_driver' },
  log_options: { to: 'log_options', coerce: 'list' },
  restart: { to: 'restart' },
  security_options: { to: 'security_options', coerce: 'list-split' },
  stop_signal: { to: 'stop_signal' },
  ulimits: { to: 'ulimits', coerce: 'list-split' },
  store_dir: { to: 'store_dir' },
  volume_driver: { ignored: 'bosun mounts only directories of the persistent disk (volumes, bind_volumes)' },
  disable_content_trust: {
    ignored: "images come from bosun's registry or are built on the VM; Docker content trust is not used",
  },
  timeout: { ignored: "bosun's agent supervises containers itself (no monit start timeout)" },
  lxc_options: { ignored: 'Docker no longer supports LXC options' },
  logrotate: { ignored: 'container logs follow log_driver and log_options' },
  networking: { to: 'networking' },
};

/** Group keys of BOSH that bosun has no use for (dropped without a word: they are about BOSH itself). */
export const BOSH_ONLY_GROUP_KEYS = new Set([
  'azs',
  'vm_extensions',
  'env',
  'migrated_from',
  'release',
]);

/** Top-level BOSH keys that describe BOSH's own resources, dropped without a word. */
export const BOSH_ONLY_TOP_KEYS = new Set([
  'director_uuid',
  'releases',
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
  'meta',
]);

export const UPDATE_KEYS = new Set(['canaries', 'max_in_flight', 'canary_watch_time', 'update_watch_time', 'serial']);
