/**
 * What the record builder reads, gathered from the director: every instance in the store (with
 * its applied spec), each agent's last reported container states, and each deployment's aliases
 * from the manifest it is being (or was last) deployed with.
 */
import type { DnsAlias } from '../../common/contracts/dns-records.js';
import type { InstanceSpec } from '../../common/contracts/instance-spec.js';
import type { Logger } from '../../common/logger.js';
import { errorMessage } from '../../common/errors.js';
import type { InstanceRecord, Store } from '../../store/store.js';
import type { ManifestPort } from '../deploy/plan.js';
import type { DnsSourceInstance } from './record-builder.js';

export interface GatheredSources {
  instances: DnsSourceInstance[];
  aliases: DnsAlias[];
  /** The instances' records, for the agents to push to. */
  records: InstanceRecord[];
}

export class DnsSourceReader {
  /** Aliases by manifest text: a deployment's manifest is parsed once per text. */
  private readonly aliasCache = new Map<string, { text: string; aliases: DnsAlias[] }>();
  private readonly specCache = new Map<string, { json: string; spec: Pick<InstanceSpec, 'containers'> | null }>();

  constructor(
    private readonly store: Store,
    private readonly manifests: Pick<ManifestPort, 'load' | 'dnsAliases'>,
    private readonly logger: Logger,
  ) {}

  async gather(
    containerStates: (agentId: string) => ReadonlyMap<string, string> | undefined,
    missingVms: ReadonlySet<string> = new Set(),
  ): Promise<GatheredSources> {
    const [records, deployments] = await Promise.all([this.store.instances.listAll(), this.store.deployments.list()]);
    const instances = records.map((r): DnsSourceInstance => {
      const states = r.agentId === null ? undefined : containerStates(r.agentId);
      return {
        id: r.id,
        deployment: r.deployment,
        group: r.group,
        index: r.index,
        desired: r.desired,
        vmCid: r.vmCid,
        ip: r.ip,
        spec: this.specOf(r),
        ...(r.vmCid !== null && missingVms.has(r.vmCid) ? { vmMissing: true } : {}),
        ...(states === undefined ? {} : { containerStates: states }),
      };
    });
    const aliases: DnsAlias[] = [];
    const live = new Set<string>();
    for (const d of deployments) {
      live.add(d.name);
      const text = d.pendingManifest ?? d.manifest;
      if (text !== null) aliases.push(...this.aliasesOf(d.name, text));
    }
    for (const name of this.aliasCache.keys()) if (!live.has(name)) this.aliasCache.delete(name);
    const ids = new Set(records.map((r) => r.id));
    for (const id of this.specCache.keys()) if (!ids.has(id)) this.specCache.delete(id);
    return { instances, aliases, records };
  }

  private specOf(r: InstanceRecord): Pick<InstanceSpec, 'containers'> | null {
    if (r.specJson === null) return null;
    const cached = this.specCache.get(r.id);
    if (cached?.json === r.specJson) return cached.spec;
    let spec: Pick<InstanceSpec, 'containers'> | null = null;
    try {
      const parsed = JSON.parse(r.specJson) as Partial<InstanceSpec>;
      spec = Array.isArray(parsed.containers) ? { containers: parsed.containers } : null;
    } catch {
      spec = null;
    }
    this.specCache.set(r.id, { json: r.specJson, spec });
    return spec;
  }

  private aliasesOf(deployment: string, text: string): DnsAlias[] {
    const cached = this.aliasCache.get(deployment);
    if (cached?.text === text) return cached.aliases;
    let aliases: DnsAlias[] = [];
    if (this.manifests.dnsAliases !== undefined) {
      try {
        aliases = this.manifests.dnsAliases(this.manifests.load(text));
      } catch (err) {
        this.logger.warn(`the DNS aliases of deployment ${deployment} could not be read from its manifest: ${errorMessage(err)}`);
      }
    }
    this.aliasCache.set(deployment, { text, aliases });
    return aliases;
  }
}
