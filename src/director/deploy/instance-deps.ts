/** What the per-instance steps need: the store, the cloud, the agents, credentials and config. */
import type { Cloud } from '../../cloud/cloud.js';
import type { Logger } from '../../common/logger.js';
import type { InstanceSpec } from '../../common/contracts/instance-spec.js';
import type { Store } from '../../store/store.js';
import type { InstanceRecord, StemcellRecord } from '../../store/store.js';
import type { AgentConnector } from '../../common/contracts/agent-connector.js';
import type { DirectorConfig } from '../config.js';
import type { AgentAddressSource, ConsoleLogReader } from '../agent-client/agent-wait.js';
import type { PlannedGroup } from './plan.js';

export interface AgentCredentials {
  caPem: string;
  certPem: string;
  keyPem: string;
  clientCertPem?: string;
  directorClientName?: string;
}

export interface InstanceDeps {
  store: Store;
  cloud: Cloud;
  agents: AgentConnector;
  config: DirectorConfig;
  logger: Logger;
  directorUuid: string;
  /** Issues the certificate of a new VM's agent (CN = agent id), signed by the director's CA. */
  agentCredentials(agentId: string): AgentCredentials;
  /**
   * Agent ids whose VM is being created and not yet recorded: their first heartbeats may arrive
   * before the store knows them, and must not be taken for unknown agents.
   */
  creatingAgents: Set<string>;
  /** The cloud's boot-log reader, if it has one: shown when an agent does not answer. */
  consoleLog?: ConsoleLogReader | undefined;
  /** The address a VM's agent heartbeats tell (for a VM whose cloud gave none). */
  agentAddress?: AgentAddressSource | undefined;
}

/** One instance being worked on: its record, the planned group and the spec to apply. */
export interface InstanceTarget {
  record: InstanceRecord;
  group: PlannedGroup;
  spec: InstanceSpec;
  /** "group/index (id)" for messages and events. */
  name: string;
  stemcell: TargetStemcell;
  /** The VM's cloud properties differ from what the cloud config resolves now: the VM is replaced (disks kept). */
  placementChanged?: boolean;
  /** The VM's addresses on manual networks differ from the instance's reserved ones: the VM is replaced (disks kept). */
  addressChanged?: boolean;
}

/** The stemcell a new VM of the instance boots. */
export interface TargetStemcell {
  /** A deploy resolved the manifest's up front; the other jobs take the one the instance is deployed with. */
  resolve(): Promise<StemcellRecord>;
  /** The instance's VM booted another stemcell than the deploy's: the VM is replaced (disks kept). */
  changed: boolean;
}

export function instanceName(r: { group: string; index: number; id: string }): string {
  return `${r.group}/${r.index} (${r.id})`;
}
