/**
 * bosun's cloud types to the CPI's arguments and back (BOSH names and shapes), and the checks
 * that a result has the shape its method promises.
 */
import type { AgentEnv, CreateVmRequest, VmMetadata, VmNetwork, VmNetworks } from '../cloud.js';
import type { DiskHint } from '../../common/contracts/disk-hint.js';
import { CpiInvalidResponseError } from './protocol.js';

/** The key of the create_vm `env` that carries bosun's agent env (BOSH keeps its own under `bosh`). */
export const BOSUN_ENV_KEY = 'bosun';

/** BOSH network settings: `{NAME: {type, ip, netmask, gateway, dns, default, cloud_properties}}`. */
export function networksToWire(networks: VmNetworks): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {};
  Object.entries(networks).forEach(([name, n], i) => {
    out[name] = {
      type: n.type ?? (n.ip === '' ? 'dynamic' : 'manual'),
      ...(n.ip === '' ? {} : { ip: n.ip }),
      ...(n.netmask === '' ? {} : { netmask: n.netmask }),
      ...(n.gateway === undefined ? {} : { gateway: n.gateway }),
      ...(n.dns === undefined ? {} : { dns: n.dns }),
      ...(n.default !== undefined ? { default: n.default } : i === 0 ? { default: ['dns', 'gateway'] } : {}),
      cloud_properties: n.cloudProperties ?? {},
    };
  });
  return out;
}

export function networksFromWire(value: unknown, where: string): VmNetworks {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new CpiInvalidResponseError(`${where} answered networks that are not an object: ${JSON.stringify(value)}`);
  }
  const out: VmNetworks = {};
  for (const [name, raw] of Object.entries(value as Record<string, unknown>)) {
    const n = (raw ?? {}) as Record<string, unknown>;
    const net: VmNetwork = { ip: typeof n['ip'] === 'string' ? n['ip'] : '', netmask: typeof n['netmask'] === 'string' ? n['netmask'] : '' };
    if (typeof n['gateway'] === 'string') net.gateway = n['gateway'];
    if (Array.isArray(n['dns'])) net.dns = n['dns'].filter((d): d is string => typeof d === 'string');
    if (n['cloud_properties'] !== null && typeof n['cloud_properties'] === 'object') {
      net.cloudProperties = n['cloud_properties'] as Record<string, unknown>;
    }
    out[name] = net;
  }
  return out;
}

/** create_vm's arguments: agent_id, stemcell_cid, cloud_properties, networks, disk_cids, env. */
export function createVmArgs(request: CreateVmRequest): unknown[] {
  return [
    request.agentId,
    request.stemcell,
    request.cloudProperties,
    networksToWire(request.networks),
    request.diskCids,
    { [BOSUN_ENV_KEY]: request.env },
  ];
}

/** The agent env bosun put into create_vm's `env` (for a CPI that serves bosun VMs, e.g. bosun-local-cpi). */
export function agentEnvFromWire(env: unknown): AgentEnv | null {
  const v = env !== null && typeof env === 'object' ? (env as Record<string, unknown>)[BOSUN_ENV_KEY] : undefined;
  return v !== null && typeof v === 'object' ? (v as AgentEnv) : null;
}

/** v1: a cid; v2: `[cid, networks]` (a v2 CPI answering a bare cid is accepted too). */
export function createVmResultFromWire(result: unknown, apiVersion: number, requested: VmNetworks, where: string): { vmCid: string; networks: VmNetworks } {
  if (typeof result === 'string' && result !== '') return { vmCid: result, networks: requested };
  if (apiVersion >= 2 && Array.isArray(result) && typeof result[0] === 'string' && result[0] !== '') {
    return { vmCid: result[0], networks: result[1] === undefined || result[1] === null ? requested : networksFromWire(result[1], where) };
  }
  const expected = apiVersion >= 2 ? '[vm_cid, networks]' : 'a VM cid';
  throw new CpiInvalidResponseError(`${where} answered ${JSON.stringify(result)}; expected ${expected}`);
}

/**
 * attach_disk's disk hint. v2 must give one (BOSH: "No disk_hint"); v1 gives none (the disk
 * reaches the agent another way), which becomes an empty path. A string hint is a device path.
 */
export function diskHintFromWire(result: unknown, apiVersion: number, where: string): DiskHint {
  if (typeof result === 'string' && result !== '') return { path: result };
  if (result !== null && typeof result === 'object' && !Array.isArray(result) && Object.keys(result).length > 0) {
    const r = result as Record<string, unknown>;
    return { ...r, path: typeof r['path'] === 'string' ? r['path'] : '' };
  }
  if (apiVersion >= 2) throw new CpiInvalidResponseError(`${where} answered ${JSON.stringify(result)}: No disk_hint (a v2 CPI must return the disk hint)`);
  return { path: '' };
}

export function expectString(result: unknown, where: string, what: string): string {
  if (typeof result === 'string' && result !== '') return result;
  throw new CpiInvalidResponseError(`${where} answered ${JSON.stringify(result)}; expected ${what} (a non-empty string)`);
}

export function expectBoolean(result: unknown, where: string): boolean {
  if (typeof result === 'boolean') return result;
  throw new CpiInvalidResponseError(`${where} answered ${JSON.stringify(result)}; expected true or false`);
}

export function expectStringList(result: unknown, where: string): string[] {
  if (result === null) return [];
  if (Array.isArray(result) && result.every((x) => typeof x === 'string')) return result as string[];
  throw new CpiInvalidResponseError(`${where} answered ${JSON.stringify(result)}; expected a list of disk cids`);
}

/** BOSH metadata values are strings; absent ones are left out. */
export function metadataToWire(metadata: VmMetadata): Record<string, string> {
  return Object.fromEntries(Object.entries(metadata).filter((e): e is [string, string] => typeof e[1] === 'string'));
}
