/** Record sets for the DNS tests. */
import type { DnsInstance, DnsRecordSet } from '../../../../src/common/contracts/dns-records.js';

export function instance(index: number, address: string | null, options: Partial<DnsInstance> & { redisHealthy?: boolean } = {}): DnsInstance {
  return {
    deployment: 'prod',
    group: 'db',
    index,
    instanceId: `id-${index}`,
    address,
    running: true,
    containers: [
      { name: 'redis', healthy: options.redisHealthy ?? true, ports: [{ port: 6379, protocol: 'tcp' }] },
      { name: 'exporter', healthy: true, ports: [] },
    ],
    ...options,
  };
}

export function recordSet(version: number, instances: DnsInstance[], aliases: DnsRecordSet['aliases'] = []): DnsRecordSet {
  return { version, instances, aliases };
}
