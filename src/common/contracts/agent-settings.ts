import type { DiskHint } from './disk-hint.js';

/** The settings file the cloud writes for the agent of a VM (`<vm>/settings.json`). */
export interface AgentSettings {
  agentId: string;
  vmCid: string;
  directorUrl: string;
  caPem: string;
  certPem: string;
  keyPem: string;
  /** The agent's client certificate (same key) for heartbeats and alerts; certPem when absent. */
  clientCertPem?: string;
  /** The common name of the director's client certificate: the only client the agent's API accepts. */
  directorClientName?: string;
  heartbeatIntervalMs: number;
  registryHost?: string;
  /** Address and port the agent's HTTPS API listens on. */
  listen: { host: string; port: number };
  network: { ip: string; netmask: string; gateway?: string };
  paths: {
    /** The VM's root directory on the host. */
    root: string;
    /** Mount point of the persistent disk. */
    store: string;
    /** Mount point used while copying to a new disk during a resize. */
    migration: string;
    /** Ephemeral data: dockerd's data-root, the agent's state file, logs. */
    ephemeral: string;
    /** tmpfs: dockerd's exec-root, socket, pid files. */
    run: string;
  };
  /** Disk hints known at VM creation, by disk cid. */
  disks: Record<string, DiskHint>;
  /** cgroup parent for this VM's containers. */
  cgroupParent: string;
  extra?: Record<string, unknown>;
}

/** Paths as the agent sees them inside a stemcell VM (BOSH's layout): the local cloud writes them, and the agent takes them for BOSH-format settings. */
export const STEMCELL_VM_PATHS: AgentSettings['paths'] = {
  root: '/',
  store: '/var/vcap/store',
  migration: '/var/vcap/store_migration_target',
  ephemeral: '/var/vcap/data',
  run: '/var/vcap/sys/run',
};
