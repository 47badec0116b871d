/**
 * What the deployer needs from the manifest module, as a narrow port: load (validate) a manifest
 * text, plan its instances, diff two manifests. src/director/deploy/manifest-adapter.ts binds it to
 * src/manifest/; tests bind it to small fixtures.
 */
import type { VmNetworks } from '../../cloud/cloud.js';
import type { InstanceSpec } from '../../common/contracts/instance-spec.js';
import type { DiffResponse } from '../../common/contracts/api.js';
import type { StemcellRequest } from '../stemcells/stemcell-service.js';
import type { DnsAlias } from '../../common/contracts/dns-records.js';
import type { CloudConfig } from '../../manifest/cloud-config.js';

export interface WatchTime {
  minMs: number;
  maxMs: number;
}

export interface UpdatePolicy {
  canaries: number;
  /** A count, or "N%" of the group's size (floor, at least 1). */
  maxInFlight: number | string;
  canaryWatchTime: WatchTime;
  updateWatchTime: WatchTime;
  serial: boolean;
}

export interface PlannedGroup {
  name: string;
  /** 0: no persistent disk. */
  persistentDiskMiB: number;
  diskCloudProperties?: Record<string, unknown>;
  cloudProperties: Record<string, unknown>;
  /**
   * Per instance index, resolved against the cloud config: its AZ and its VM's cloud properties
   * (they replace `cloudProperties` for that instance). Unset: every VM gets `cloudProperties`.
   */
  placements?: Array<{ az: string | null; cloudProperties: Record<string, unknown> }>;
  /** The stemcell the manifest names for the group's VMs; the deployer resolves it against the uploaded ones. */
  stemcell: StemcellRequest;
  networks: VmNetworks;
  /** Static addresses by network name, one per index (the instance at index i gets the i-th). */
  staticIps?: Record<string, string[]>;
  /** The networks as the manifest names them (static_ips, default): the director allocates addresses of manual ones. */
  networkRefs?: Array<{ name: string; staticIps: string[]; default: string[] }>;
  /** The group's azs (static IPs must lie in a subnet of one of them). */
  azs?: string[];
  /** Index order. */
  instances: InstanceSpec[];
  /** Group-level overrides of the deployment's update policy. */
  update?: Partial<UpdatePolicy>;
}

export interface DeploymentPlan {
  name: string;
  update: UpdatePolicy;
  groups: PlannedGroup[];
}

export interface LoadedDeploymentManifest {
  name: string;
  /** Opaque to the director: handed back to plan() and diff(). */
  manifest: unknown;
  warnings: string[];
}

export interface ManifestPort {
  /** Throws InvalidManifestError naming every problem. */
  load(text: string): LoadedDeploymentManifest;
  /** `cloudConfig`: the director's current one (null: none); a name it does not define throws NotFoundError. */
  plan(loaded: LoadedDeploymentManifest, instanceId: (group: string, index: number) => string, cloudConfig?: CloudConfig | null): DeploymentPlan;
  diff(before: LoadedDeploymentManifest | null, after: LoadedDeploymentManifest, options: { showSecrets: boolean }): DiffResponse;
  /** Service discovery's aliases of a manifest (`dns_aliases`, cross-VM links); none when absent. */
  dnsAliases?(loaded: LoadedDeploymentManifest): DnsAlias[];
}
