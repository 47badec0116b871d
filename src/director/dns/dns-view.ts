/**
 * What `bosun dns` shows of one deployment: its part of the record set the director holds, with
 * every name and what it answers now (the same rules as the agents' DNS servers: only healthy
 * containers of running instances are answered).
 */
import type { DeploymentDns } from '../../common/contracts/api.js';
import type { DnsInstance, DnsRecordSet } from '../../common/contracts/dns-records.js';
import { containerDnsName, groupDnsName, instanceDnsName, srvDnsName } from '../../common/dns-names.js';

export function deploymentDnsView(set: DnsRecordSet, deployment: string, agents: ReadonlyMap<string, number | null>, agentIds: readonly string[]): DeploymentDns {
  const mine = set.instances.filter((i) => i.deployment === deployment);
  const records = new Map<string, { type: 'A' | 'SRV'; answers: string[] }>();
  const add = (name: string, type: 'A' | 'SRV', answer: string | null): void => {
    const r = records.get(name) ?? { type, answers: [] };
    records.set(name, r);
    if (answer !== null && !r.answers.includes(answer)) r.answers.push(answer);
  };
  for (const i of mine) {
    const up = i.running && i.address !== null ? i.address : null;
    add(groupDnsName(deployment, i.group), 'A', up);
    for (const c of i.containers) {
      const answer = c.healthy ? up : null;
      add(containerDnsName(deployment, i.group, c.name), 'A', answer);
      add(instanceDnsName(deployment, i.group, c.name, i.index), 'A', answer);
      for (const p of c.ports) {
        add(srvDnsName(deployment, i.group, c.name, p.protocol), 'SRV', answer === null ? null : `${p.port} ${instanceDnsName(deployment, i.group, c.name, i.index)}`);
      }
    }
  }
  const suffix = `.${deployment.toLowerCase()}.bosun`;
  const byName = new Map(set.aliases.map((a) => [a.name, a.target]));
  const finalTarget = (name: string): string => {
    let t = name;
    for (let hops = 0; hops < 16 && byName.has(t); hops++) t = byName.get(t) as string;
    return t;
  };
  const aliases = set.aliases.filter((a) => finalTarget(a.name).endsWith(suffix));
  const current = agentIds.filter((id) => (agents.get(id) ?? -1) >= set.version).length;
  return {
    deployment,
    version: set.version,
    instances: mine.map((i) => ({
      group: i.group,
      index: i.index,
      id: i.instanceId,
      address: i.address,
      running: i.running,
      containers: i.containers.map((c) => ({ name: c.name, healthy: c.healthy, names: namesOf(i, c.name), ports: c.ports })),
    })),
    records: [...records].map(([name, r]) => ({ name, ...r })).sort((a, b) => (a.name < b.name ? -1 : 1)),
    aliases,
    agents: { current, total: agentIds.length },
  };
}

function namesOf(i: DnsInstance, container: string): string[] {
  return [instanceDnsName(i.deployment, i.group, container, i.index), containerDnsName(i.deployment, i.group, container)];
}
