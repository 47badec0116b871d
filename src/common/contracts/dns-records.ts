/**
 * Service discovery's wire types (docs/service-discovery.md). The director owns the record set
 * and pushes it to every agent; each agent answers DNS for it on its VM's address. Names are
 * built by src/common/dns-names.ts, on both sides, from these records.
 */

/** One container of an instance as DNS knows it. */
export interface DnsContainer {
  /** The container's name in the manifest. */
  name: string;
  /** Running, and healthy where it has a health check: only such containers are answered. */
  healthy: boolean;
  /** Host ports from the container's `bind_ports` (the SRV records). */
  ports: Array<{ port: number; protocol: 'tcp' | 'udp' }>;
}

/** One instance of an instance group. */
export interface DnsInstance {
  deployment: string;
  group: string;
  index: number;
  instanceId: string;
  /** The VM's address; null while the instance has no VM. */
  address: string | null;
  /** False when the instance is stopped on purpose or has no running VM. */
  running: boolean;
  containers: DnsContainer[];
}

/**
 * An alias (manifest `dns_aliases`, or a cross-VM link's alias) answered like its target.
 * Both names are fully qualified and lower case; the target is a name of dns-names.ts
 * (or another alias).
 */
export interface DnsAlias {
  name: string;
  target: string;
}

/** The whole record set at one version (versions only grow). */
export interface DnsRecordSet {
  version: number;
  instances: DnsInstance[];
  aliases: DnsAlias[];
}

/** The key of an instance inside a record set. */
export interface DnsInstanceKey {
  deployment: string;
  group: string;
  index: number;
}

/**
 * What the director sends to `PUT /agent/v1/dns`: the whole set, or a delta against a version the
 * agent has. An agent whose version is not `baseVersion` refuses a delta with 409 and code
 * `dns_version_mismatch` (details: `{ version }`); the director then sends the whole set.
 * A push older than what the agent has is acknowledged and ignored.
 */
export type DnsPush =
  | { kind: 'full'; set: DnsRecordSet }
  | {
      kind: 'delta';
      baseVersion: number;
      version: number;
      upsert: DnsInstance[];
      remove: DnsInstanceKey[];
      /** The whole alias list when it changed; absent when unchanged. */
      aliases?: DnsAlias[];
    };

/** The agent's answer to a push (and to `GET /agent/v1/dns`, with the set). */
export interface DnsPushResult {
  /** The version the agent now answers from. */
  version: number;
}
