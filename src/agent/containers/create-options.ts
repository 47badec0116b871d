import { join } from 'node:path';
import { CONTAINER_LABELS, type ContainerSpec, type InstanceSpec } from '../../common/contracts/instance-spec.js';
import type { EngineCreateBody } from '../docker-engine/docker-engine.js';
import { deploymentSearchDomain, linkSearchDomain } from '../../common/dns-names.js';

/** The host directory of a mount: `store` paths live on the persistent disk. */
export function mountSourcePath(storeDir: string, source: ContainerSpec['mounts'][number]['source']): string {
  return source.kind === 'store' ? join(storeDir, source.path) : source.path;
}

/**
 * The Engine API create body for a container: the spec's body plus bosun's labels and binds, and,
 * when `dnsServer` is given (the agent answers DNS on the VM's address) and the manifest sets no
 * `dns`, the VM's resolver with the deployment's and the container's link search domains.
 */
export function createOptions(instance: InstanceSpec, c: ContainerSpec, storeDir: string, dnsServer: string | null = null): EngineCreateBody {
  const binds = c.mounts.map((m) => `${mountSourcePath(storeDir, m.source)}:${m.target}${m.readOnly ? ':ro' : ''}`);
  const labels: Record<string, string> = {
    ...(c.create.Labels ?? {}),
    [CONTAINER_LABELS.deployment]: instance.deployment,
    [CONTAINER_LABELS.group]: instance.group,
    [CONTAINER_LABELS.index]: String(instance.index),
    [CONTAINER_LABELS.container]: c.name,
    [CONTAINER_LABELS.specHash]: c.specHash,
  };
  const hostConfig = { ...c.create.HostConfig, Binds: [...binds], ...containerResolver(instance, c, dnsServer) };
  return { ...c.create, name: c.name, Image: c.image, Labels: labels, HostConfig: hostConfig };
}

/**
 * The resolver of a container whose manifest sets no `dns` (Docker refuses `Dns` for a container
 * sharing another's network, network_mode container:X). `ndots:2` makes `redis.db` (one dot) go
 * through the search domains before it is tried as it is: musl (Alpine) never searches a name with
 * as many dots as `ndots`, and stops at the first SERVFAIL.
 */
function containerResolver(instance: InstanceSpec, c: ContainerSpec, dnsServer: string | null): { Dns?: string[]; DnsSearch?: string[]; DnsOptions?: string[] } {
  const hc = c.create.HostConfig;
  if (dnsServer === null || (hc.Dns ?? []).length > 0 || hc.NetworkMode?.startsWith('container:')) return {};
  // The link domain first: a link alias (`cache`) wins over a group of the same name.
  const ours = [linkSearchDomain(instance.deployment, instance.group, c.name), deploymentSearchDomain(instance.deployment)];
  const search = hc.DnsSearch ?? [];
  const options = hc.DnsOptions ?? [];
  return {
    Dns: [dnsServer],
    DnsSearch: [...search, ...ours.filter((d) => !search.includes(d))],
    DnsOptions: options.some((o) => o.startsWith('ndots:')) ? options : [...options, 'ndots:2'],
  };
}
