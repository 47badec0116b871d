/**
 * Builds service discovery's record set (src/common/contracts/dns-records.ts) from what the
 * director knows: its instances (VM address, desired state, the applied spec with each
 * container's bind_ports), each container's last known state from its agent's heartbeats, and
 * the deployments' aliases (manifest `dns_aliases`, cross-VM link aliases). Pure.
 *
 * A container is healthy only while its instance runs (started, with a VM) and its agent last
 * reported it `running` (which for a container with a health check means healthy). When the
 * director has no report from the instance's current agent (a director restart), the last set's
 * word stands for an instance still on the same VM; otherwise (a new VM: its containers have yet
 * to start) it is not healthy.
 */
import type { DnsAlias, DnsContainer, DnsInstance, DnsInstanceKey, DnsRecordSet } from '../../common/contracts/dns-records.js';
import type { InstanceSpec } from '../../common/contracts/instance-spec.js';

export interface DnsSourceInstance {
  id: string;
  deployment: string;
  group: string;
  index: number;
  desired: 'started' | 'stopped';
  vmCid: string | null;
  ip: string | null;
  /** The cloud says the instance's VM is gone (the health monitor's last analysis): nothing on it runs. */
  vmMissing?: boolean;
  /** The last applied spec (its containers and their port bindings); null before the first apply. */
  spec: Pick<InstanceSpec, 'containers'> | null;
  /**
   * Each container's last reported state by name, from the instance's current agent; undefined
   * when that agent has not reported since the director started.
   */
  containerStates?: ReadonlyMap<string, string>;
}

export interface DnsSources {
  instances: readonly DnsSourceInstance[];
  aliases: readonly DnsAlias[];
  /** The set the director holds now (health of instances not yet heard from). */
  previous?: DnsRecordSet | null;
  /** The VM of each instance (by id) when `previous` was built: its health holds only on that VM. */
  previousVmCids?: ReadonlyMap<string, string | null>;
}

/** The record set's content (everything but its version). */
export type DnsRecords = Omit<DnsRecordSet, 'version'>;

export function instanceKey(k: DnsInstanceKey): string {
  return `${k.deployment}/${k.group}/${k.index}`;
}

export function buildRecords(sources: DnsSources): DnsRecords {
  const previous = new Map((sources.previous?.instances ?? []).map((i) => [i.instanceId, i]));
  const instances = sources.instances.map((i) => {
    const before = previous.get(i.id);
    const sameVm = sources.previousVmCids === undefined || sources.previousVmCids.get(i.id) === i.vmCid;
    return buildInstance(i, sameVm ? before : undefined);
  });
  instances.sort((a, b) => compareKeys(a, b));
  const aliases = dedupeAliases(sources.aliases);
  return { instances, aliases };
}

function buildInstance(i: DnsSourceInstance, before: DnsInstance | undefined): DnsInstance {
  const address = i.vmCid === null ? null : i.ip;
  const running = i.desired === 'started' && i.vmCid !== null && address !== null && i.vmMissing !== true;
  const fallback = before !== undefined && before.address === address ? new Map(before.containers.map((c) => [c.name, c.healthy])) : null;
  const containers: DnsContainer[] = (i.spec?.containers ?? []).map((c) => {
    const state = i.containerStates?.get(c.name);
    const reported = i.containerStates === undefined ? (fallback?.get(c.name) ?? false) : state === 'running';
    return { name: c.name, healthy: running && reported, ports: portsOf(c.create.HostConfig.PortBindings) };
  });
  containers.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { deployment: i.deployment, group: i.group, index: i.index, instanceId: i.id, address, running, containers };
}

/** Host ports of a container's port bindings ("6379/tcp" → [{HostPort: "6379"}]), each once, sorted. */
export function portsOf(bindings: Record<string, Array<{ HostIp?: string; HostPort: string }>> | undefined): DnsContainer['ports'] {
  const seen = new Map<string, DnsContainer['ports'][number]>();
  for (const [key, hosts] of Object.entries(bindings ?? {})) {
    const protocol = key.endsWith('/udp') ? 'udp' : key.endsWith('/tcp') || !key.includes('/') ? 'tcp' : null;
    if (protocol === null) continue; // sctp: no SRV records
    for (const h of hosts) {
      const port = Number(h.HostPort);
      if (!Number.isInteger(port) || port <= 0) continue; // a port Docker picks: not known in advance
      seen.set(`${port}/${protocol}`, { port, protocol });
    }
  }
  return [...seen.values()].sort((a, b) => a.port - b.port || (a.protocol < b.protocol ? -1 : 1));
}

function dedupeAliases(aliases: readonly DnsAlias[]): DnsAlias[] {
  const byName = new Map<string, DnsAlias>();
  for (const a of aliases) {
    const name = a.name.toLowerCase().replace(/\.$/, '');
    if (!byName.has(name)) byName.set(name, { name, target: a.target.toLowerCase().replace(/\.$/, '') });
  }
  return [...byName.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export function compareKeys(a: DnsInstanceKey, b: DnsInstanceKey): number {
  if (a.deployment !== b.deployment) return a.deployment < b.deployment ? -1 : 1;
  if (a.group !== b.group) return a.group < b.group ? -1 : 1;
  return a.index - b.index;
}
