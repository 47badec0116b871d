/**
 * The local cloud writing its VMs' agent settings in BOSH's format, as a third-party CPI does
 * (bosh-cpi-go's AgentEnv): so that CI runs the agent's BOSH-format path and the director's
 * address-from-heartbeat path end to end through bosun-local-cpi (`agent_settings: bosh`,
 * `report_ip: false`).
 */
import { AGENT_PORT } from '../../common/contracts/agent-protocol.js';
import type { BoshAgentSettings } from '../../common/contracts/bosh-agent-settings.js';
import type { DiskHint } from '../../common/contracts/disk-hint.js';
import type { AgentEnv } from '../cloud.js';

export interface BoshSettingsInput {
  agentId: string;
  vmCid: string;
  networkName: string;
  ip: string;
  netmask: string;
  /** false: a dynamic network without `ip` (the agent finds its address on the VM). */
  reportIp: boolean;
  disks: Record<string, DiskHint>;
  env: AgentEnv;
}

export function boshSettingsFor(i: BoshSettingsInput): BoshAgentSettings {
  return {
    agent_id: i.agentId,
    vm: { name: i.vmCid },
    mbus: `https://${i.reportIp ? i.ip : '0.0.0.0'}:${AGENT_PORT}`,
    ntp: [],
    networks: {
      [i.networkName]: {
        type: i.reportIp ? 'manual' : 'dynamic',
        ...(i.reportIp ? { ip: i.ip } : {}),
        netmask: i.netmask,
        default: ['dns', 'gateway'],
        cloud_properties: {},
      },
    },
    disks: { system: '', ephemeral: null, persistent: persistentOf(i.disks) },
    // create_vm's env, verbatim, as BOSH CPIs pass it: bosun's part under `bosun`.
    env: { bosun: i.env },
  };
}

export function isBoshSettingsDocument(doc: unknown): doc is BoshAgentSettings {
  return doc !== null && typeof doc === 'object' && 'agent_id' in doc;
}

/** BOSH CPIs write a device path as a plain string. */
function persistentOf(disks: Record<string, DiskHint>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(disks).map(([cid, hint]) => [cid, Object.keys(hint).length === 1 ? hint.path : hint]));
}

export function withPersistentDisks(doc: BoshAgentSettings, change: (disks: Record<string, DiskHint>) => Record<string, DiskHint>): BoshAgentSettings {
  const current: Record<string, DiskHint> = {};
  for (const [cid, hint] of Object.entries(doc.disks?.persistent ?? {})) {
    if (typeof hint === 'string') current[cid] = { path: hint };
    else if (hint !== null && typeof hint === 'object') current[cid] = hint as DiskHint;
  }
  return { ...doc, disks: { ...doc.disks, persistent: persistentOf(change(current)) } };
}
