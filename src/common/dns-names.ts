/**
 * The names of service discovery (docs/service-discovery.md), built in one place for the
 * director (which shows them) and the agent (which answers them). All lower case.
 */
export const DNS_DOMAIN = 'bosun';

const lower = (...labels: Array<string | number>): string => labels.map((l) => String(l).toLowerCase()).join('.');

/** `<group>.<deployment>.bosun`: every running instance of the group. */
export function groupDnsName(deployment: string, group: string): string {
  return lower(group, deployment, DNS_DOMAIN);
}

/** `<container>.<group>.<deployment>.bosun`: every instance where that container is healthy. */
export function containerDnsName(deployment: string, group: string, container: string): string {
  return lower(container, group, deployment, DNS_DOMAIN);
}

/** `<index>.<container>.<group>.<deployment>.bosun`: one instance, stable across VM replacement. */
export function instanceDnsName(deployment: string, group: string, container: string, index: number): string {
  return lower(index, container, group, deployment, DNS_DOMAIN);
}

/** `_<container>._<protocol>.<group>.<deployment>.bosun`: SRV records, one per instance. */
export function srvDnsName(deployment: string, group: string, container: string, protocol: 'tcp' | 'udp'): string {
  return lower(`_${container}`, `_${protocol}`, group, deployment, DNS_DOMAIN);
}

/** The search domain of every container of a deployment, so that `redis.db` resolves. */
export function deploymentSearchDomain(deployment: string): string {
  return lower(deployment, DNS_DOMAIN);
}

/**
 * The search domain of one container's cross-VM links: the link alias `cache` of container `web`
 * in group `app` of deployment `prod` is the alias `cache.web.app.prod.links.bosun`, found by the
 * container's resolver through this search domain.
 */
export function linkSearchDomain(deployment: string, group: string, container: string): string {
  return lower(container, group, deployment, 'links', DNS_DOMAIN);
}

/** The fully qualified alias name of a cross-VM link (see linkSearchDomain). */
export function linkAliasDnsName(deployment: string, group: string, container: string, alias: string): string {
  return lower(alias, linkSearchDomain(deployment, group, container));
}

/** Whether a (fully qualified, any case, trailing dot allowed) name is inside bosun's domain. */
export function isBosunDnsName(name: string): boolean {
  const n = name.toLowerCase().replace(/\.$/, '');
  return n === DNS_DOMAIN || n.endsWith(`.${DNS_DOMAIN}`);
}
