/**
 * BOSH-format agent settings (what any BOSH CPI writes, bosh-agent-settings.ts) mapped into bosun's
 * AgentSettings. The CPI knows the VM (its cid, networks, disks, where the agent listens); what
 * only a bosun director knows (its URL, the agent's certificates, the heartbeat interval) comes in
 * `env.bosun`, the create_vm `env` the CPI passes through verbatim. Paths are a stemcell VM's.
 */
import { z } from 'zod';
import { agentEnvSchema } from './agent-env-schema.js';
import { AGENT_PORT } from '../../common/contracts/agent-protocol.js';
import { STEMCELL_VM_PATHS, type AgentSettings } from '../../common/contracts/agent-settings.js';
import type { BoshAgentSettings, BoshNetworkSettings } from '../../common/contracts/bosh-agent-settings.js';
import type { DiskHint } from '../../common/contracts/disk-hint.js';
import { InvalidInputError } from '../../common/errors.js';
import { discoverVmAddress, type VmAddressProbe } from './vm-address.js';

/** bosun's own settings say `agentId`; BOSH's say `agent_id`. */
export function isBoshSettings(raw: unknown): raw is BoshAgentSettings {
  return raw !== null && typeof raw === 'object' && 'agent_id' in raw && !('agentId' in raw);
}


const networkSchema = z.looseObject({
  type: z.enum(['manual', 'dynamic', 'vip']).optional(),
  ip: z.string().optional(),
  netmask: z.string().optional(),
  gateway: z.string().optional(),
  default: z.array(z.string()).optional(),
});

const boshSchema = z.looseObject({
  agent_id: z.string().min(1),
  vm: z.looseObject({ name: z.string().optional(), id: z.string().optional() }).optional(),
  /** Set by the ConfigDrive source from the metadata's uuid when the settings name no VM. */
  vmCid: z.string().optional(),
  mbus: z.string().optional(),
  networks: z.record(z.string(), networkSchema).optional(),
  disks: z.looseObject({ persistent: z.record(z.string(), z.unknown()).nullish() }).optional(),
  env: z.record(z.string(), z.unknown()).nullish(),
});

export interface BoshMappingOptions {
  /** Where the discovery of a dynamic network's address looks (the system by default). */
  addressProbe?: VmAddressProbe;
}

/** Maps a BOSH-format settings document; `where` names its source in errors ("The settings from the File source"). */
export async function boshToAgentSettings(raw: unknown, where: string, options: BoshMappingOptions = {}): Promise<AgentSettings> {
  const parsed = boshSchema.safeParse(raw);
  if (!parsed.success) throw new InvalidInputError(`${where}: the BOSH-format settings are invalid: ${issues(parsed.error)}.`);
  const s = parsed.data;
  const bosun = s.env?.['bosun'];
  if (bosun === undefined || bosun === null) {
    throw new InvalidInputError(
      `${where}: the settings are in BOSH's format but carry no env.bosun: this VM was not created by a bosun director, or its CPI does not copy create_vm's env into the agent settings verbatim. ` +
        'Check that the director that made the VM is a bosun director with `cloud: {type: external}` and that the CPI writes `env` into the settings (bosh-cpi-go CPIs do).',
    );
  }
  const env = agentEnvSchema.safeParse(bosun);
  if (!env.success) throw new InvalidInputError(`${where}: env.bosun is invalid (${issues(env.error)}); the director and the agent must run the same bosun version.`);
  const vmCid = s.vm?.name ?? s.vm?.id ?? s.vmCid;
  if (vmCid === undefined || vmCid === '') {
    throw new InvalidInputError(`${where}: the BOSH-format settings name no VM (neither vm.name nor vm.id); the CPI must write the VM's cid into the settings.`);
  }
  const e = env.data;
  return {
    agentId: s.agent_id,
    vmCid,
    directorUrl: e.directorUrl,
    caPem: e.caPem,
    certPem: e.certPem,
    keyPem: e.keyPem,
    ...(e.clientCertPem === undefined ? {} : { clientCertPem: e.clientCertPem }),
    ...(e.directorClientName === undefined ? {} : { directorClientName: e.directorClientName }),
    heartbeatIntervalMs: e.heartbeatIntervalMs,
    ...(e.registryHost === undefined ? {} : { registryHost: e.registryHost }),
    listen: listenFromMbus(s.mbus, where),
    network: await networkOf(s.networks ?? {}, where, options.addressProbe),
    paths: { ...STEMCELL_VM_PATHS },
    disks: persistentDisks(s.disks?.persistent ?? {}),
    // One cgroup per VM, as the local cloud names them: containers of VMs sharing a host's cgroup tree stay apart.
    cgroupParent: `/bosun-${vmCid}`,
    ...(e.extra === undefined ? {} : { extra: e.extra }),
  };
}

/**
 * `https://[user:password@]HOST:PORT` (BOSH create-env style), default 0.0.0.0:6868. The user and
 * password are ignored: bosun's agent API is mutual TLS (the director's client certificate).
 */
export function listenFromMbus(mbus: string | undefined, where: string): { host: string; port: number } {
  if (mbus === undefined || mbus === '') return { host: '0.0.0.0', port: AGENT_PORT };
  let url: URL;
  try {
    url = new URL(mbus);
  } catch {
    throw new InvalidInputError(`${where}: mbus "${redact(mbus)}" is not a URL; configure the CPI's agent mbus as https://0.0.0.0:${AGENT_PORT}.`);
  }
  if (url.protocol !== 'https:') {
    throw new InvalidInputError(
      `${where}: mbus "${redact(mbus)}" is not https://HOST:PORT; bosun's agent serves HTTPS (no NATS): configure the CPI's agent mbus as https://0.0.0.0:${AGENT_PORT}.`,
    );
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1') || '0.0.0.0';
  const port = url.port === '' ? (/:443(\/|$)/.test(mbus) ? 443 : AGENT_PORT) : Number(url.port);
  return { host, port };
}

/** BOSH's default network: the one whose `default` has `gateway`, else the only one, else the first. */
export function defaultNetwork(networks: Record<string, BoshNetworkSettings>): [string, BoshNetworkSettings] | undefined {
  const entries = Object.entries(networks);
  return entries.find(([, n]) => n.default?.includes('gateway')) ?? entries[0];
}

async function networkOf(networks: Record<string, BoshNetworkSettings>, where: string, probe: VmAddressProbe | undefined): Promise<AgentSettings['network']> {
  const chosen = defaultNetwork(networks);
  const net = chosen?.[1];
  if (net?.ip !== undefined && net.ip !== '') {
    return { ip: net.ip, netmask: net.netmask ?? '', ...(net.gateway === undefined ? {} : { gateway: net.gateway }) };
  }
  // A dynamic network (or none): the cloud chose the address; the VM's default-route interface has it.
  const found = await discoverVmAddress(probe);
  if (found === null) {
    const name = chosen === undefined ? 'no network' : `network "${chosen[0]}" (${net?.type ?? 'no type'})`;
    throw new InvalidInputError(
      `${where}: the settings give ${name} without an ip, and the VM has no default route and more than one (or no) interface with an IPv4 address: the agent cannot tell its address. Give the VM a default route or a manual network.`,
    );
  }
  const gateway = net?.gateway ?? found.gateway;
  return { ip: found.ip, netmask: net?.netmask || found.netmask, ...(gateway === undefined ? {} : { gateway }) };
}

/** `disks.persistent`: disk cid → hint; a string hint is a device path. */
export function persistentDisks(persistent: Record<string, unknown>): Record<string, DiskHint> {
  const out: Record<string, DiskHint> = {};
  for (const [cid, hint] of Object.entries(persistent)) {
    if (typeof hint === 'string') out[cid] = { path: hint };
    else if (hint !== null && typeof hint === 'object' && !Array.isArray(hint)) {
      const h = hint as Record<string, unknown>;
      out[cid] = { ...h, path: typeof h['path'] === 'string' ? h['path'] : '' };
    }
  }
  return out;
}

function issues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join('.') || '(top)'}: ${i.message}`).join('; ');
}

/** An mbus URL without its password (CPIs put one there). */
function redact(mbus: string): string {
  return mbus.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}
