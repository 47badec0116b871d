/**
 * Agent settings in BOSH's format, as any BOSH CPI writes them for the VM it creates (bosh-cpi-go's
 * AgentEnv): the agent reads this as well as bosun's own AgentSettings (agent-settings.ts). What
 * only bosun needs (the director's URL, the agent's certificates, the heartbeat interval) travels in
 * `env.bosun`, the create_vm `env` the CPI copies verbatim (BOSUN_ENV_KEY in
 * src/cloud/external/wire.ts); its shape is the cloud's AgentEnv (src/cloud/cloud.ts).
 */
export interface BoshNetworkSettings {
  type?: 'manual' | 'dynamic' | 'vip';
  ip?: string;
  netmask?: string;
  gateway?: string;
  dns?: string[];
  default?: string[];
  mac?: string;
  preconfigured?: boolean;
  routes?: unknown[];
  cloud_properties?: Record<string, unknown>;
}

export interface BoshAgentSettings {
  agent_id: string;
  vm?: { name?: string; id?: string };
  /** Where the agent listens: `https://[user:password@]HOST:PORT` (BOSH create-env style). */
  mbus?: string;
  ntp?: string[];
  networks?: Record<string, BoshNetworkSettings>;
  disks?: {
    system?: unknown;
    ephemeral?: unknown;
    /** disk cid → hint: a device path string or an object (see disk-hint.ts). */
    persistent?: Record<string, unknown>;
  };
  /** The create_vm `env`, verbatim; bosun's part is under `bosun`. */
  env?: Record<string, unknown>;
  blobstore?: unknown;
}
