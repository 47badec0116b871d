/**
 * The director's tables as Kysely sees them. Column types are portable on purpose (text, integer):
 * timestamps are ISO-8601 text and flags are 0/1 integers, so the same repositories run on SQLite
 * and PostgreSQL without dialect-specific SQL.
 */
import type { Generated } from 'kysely';

export interface DeploymentsTable {
  name: string;
  /** Manifest text of the last successful deploy; null until one succeeded. */
  manifest: string | null;
  /** Manifest text of the deploy in progress (or the last one that failed). */
  pending_manifest: string | null;
  /** 1 on, 0 off, null: follow the global setting. */
  resurrection: number | null;
  created_at: string;
  updated_at: string;
  last_deployed_at: string | null;
}

export interface InstancesTable {
  /** Stable uuid, kept across VM replacements. */
  id: string;
  deployment: string;
  group_name: string;
  idx: number;
  desired_state: string;
  vm_cid: string | null;
  agent_id: string | null;
  ip: string | null;
  spec_json: string | null;
  spec_hash: string | null;
  last_heartbeat_at: string | null;
  job_state: string | null;
  created_at: string;
  /** The stemcell the instance's VM booted (migration 0006); kept when the VM goes. */
  stemcell_name: string | null;
  stemcell_version: string | null;
  /** The AZ the instance is placed in, and the cloud properties its VM was created with (migration 0007). */
  az: string | null;
  cloud_properties_json: string | null;
  /** The networks (VmNetworks JSON) its VM was created with (migration 0008). */
  networks_json: string | null;
}

export interface VmsTable {
  cid: string;
  agent_id: string;
  instance_id: string;
  ip: string | null;
  created_at: string;
}

/** Which stemcell (cloud cid) each VM was created from (migration 0002). */
export interface VmStemcellsTable {
  vm_cid: string;
  stemcell_cid: string;
}

export interface StemcellsTable {
  name: string;
  version: string;
  operating_system: string;
  api_version: number;
  formats_json: string;
  sha1: string;
  cid: string;
  uploaded_at: string;
}

export interface DisksTable {
  cid: string;
  size_mib: number;
  instance_id: string | null;
  deployment: string | null;
  state: string;
  /** The cloud's disk hint from the last attach (JSON), so that a re-run can mount without re-attaching. */
  hint_json: string | null;
  created_at: string;
  orphaned_at: string | null;
  /** 1 once the director saw the disk mounted by an agent (it may hold data: never formatted); 0 for a new disk. */
  mounted_before: number;
}

export interface DiskMigrationsTable {
  instance_id: string;
  deployment: string;
  vm_cid: string;
  old_disk_cid: string;
  new_disk_cid: string | null;
  new_size_mib: number;
  /** creating | copying | stopped | committed (DiskMigrationPhase). */
  phase: string;
  /** The agent's clock (ms) when the bulk copy's last pass started. */
  copy_started_at_ms: number | null;
  started_at: string;
}

export interface TasksTable {
  id: Generated<number>;
  state: string;
  description: string;
  deployment: string | null;
  user_name: string;
  created_at: string;
  started_at: string | null;
  ended_at: string | null;
  result: string | null;
  error: string | null;
  cancel_requested: number;
}

export interface TaskEventsTable {
  task_id: number;
  seq: number;
  event_json: string;
}

export interface AuditEventsTable {
  id: Generated<number>;
  time: string;
  user_name: string;
  action: string;
  object_type: string;
  object_name: string;
  deployment: string | null;
  instance: string | null;
  task_id: number | null;
  error: string | null;
  context_json: string;
}

export interface AlertsTable {
  id: string;
  severity: number;
  category: string;
  title: string;
  summary: string;
  deployment: string | null;
  instance: string | null;
  created_at: string;
}

export interface LocksTable {
  name: string;
  task_id: number;
  expires_at: string;
}

export interface ConfigTable {
  key: string;
  value: string;
}

/** A deployment whose resurrection the meltdown rule stopped, until an operator lifts it. */
export interface ResurrectionStopsTable {
  deployment: string;
  /** When the meltdown tripped (ISO time). */
  tripped_at: string;
}

/** The DNS record set the director last pushed (one row, id 1; migration 0006). */
export interface DnsStateTable {
  id: number;
  version: number;
  /** The DnsRecordSet as JSON. */
  set_json: string;
  updated_at: string;
}

/** Every uploaded version of BOSH's cloud config (migration 0007); the newest is the current one. */
export interface CloudConfigsTable {
  id: Generated<number>;
  text: string;
  user_name: string;
  created_at: string;
}

/** An address of a manual network, owned by an instance (migration 0008); unique per network and address. */
export interface IpReservationsTable {
  network: string;
  address: string;
  instance_id: string;
  deployment: string;
  /** 1: one of the group's static_ips; 0: allocated by the director. */
  static: number;
  /** The VmNetwork (JSON) the instance's VMs get on this network. */
  settings_json: string;
  created_at: string;
}

export interface DatabaseSchema {
  deployments: DeploymentsTable;
  instances: InstancesTable;
  vms: VmsTable;
  disks: DisksTable;
  disk_migrations: DiskMigrationsTable;
  tasks: TasksTable;
  task_events: TaskEventsTable;
  audit_events: AuditEventsTable;
  alerts: AlertsTable;
  locks: LocksTable;
  config: ConfigTable;
  resurrection_stops: ResurrectionStopsTable;
  stemcells: StemcellsTable;
  vm_stemcells: VmStemcellsTable;
  dns_state: DnsStateTable;
  cloud_configs: CloudConfigsTable;
  ip_reservations: IpReservationsTable;
}
