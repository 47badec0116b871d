/**
 * The director's state store: one object holding every repository over one database.
 * `Store.create` opens (and migrates) the database; `Store.close` releases it.
 */
import { AlertsRepository } from './repositories/alerts.js';
import { AuditEventsRepository } from './repositories/audit-events.js';
import { CloudConfigsRepository } from './repositories/cloud-configs.js';
import { ConfigRepository } from './repositories/config.js';
import { DnsStateRepository } from './repositories/dns-state.js';
import { ChangeFeed } from './change-feed.js';
import { DeploymentsRepository } from './repositories/deployments.js';
import { DiskMigrationsRepository } from './repositories/disk-migrations.js';
import { DisksRepository } from './repositories/disks.js';
import { InstancesRepository } from './repositories/instances.js';
import { IpReservationsRepository } from './repositories/ip-reservations.js';
import { LocksRepository } from './repositories/locks.js';
import { ResurrectionStopsRepository } from './repositories/resurrection-stops.js';
import { StemcellsRepository } from './repositories/stemcells.js';
import { TaskEventsRepository } from './repositories/task-events.js';
import { TasksRepository } from './repositories/tasks.js';
import { VmsRepository } from './repositories/vms.js';
import { createDatabase } from './database.js';
import type { DatabaseConfig, OpenDatabase } from './database.js';

export class Store {
  readonly deployments: DeploymentsRepository;
  readonly instances: InstancesRepository;
  readonly vms: VmsRepository;
  readonly disks: DisksRepository;
  readonly diskMigrations: DiskMigrationsRepository;
  readonly tasks: TasksRepository;
  readonly taskEvents: TaskEventsRepository;
  readonly auditEvents: AuditEventsRepository;
  readonly alerts: AlertsRepository;
  readonly locks: LocksRepository;
  readonly config: ConfigRepository;
  readonly resurrectionStops: ResurrectionStopsRepository;
  readonly stemcells: StemcellsRepository;
  readonly dnsState: DnsStateRepository;
  /** Changes to instances and deployments, for what the director derives from them (DNS records). */
  readonly changes = new ChangeFeed();
  readonly cloudConfigs: CloudConfigsRepository;
  /** Addresses of the cloud config's manual networks, per instance. */
  readonly ipReservations: IpReservationsRepository;

  private constructor(private readonly database: OpenDatabase) {
    const db = database.db;
    this.deployments = new DeploymentsRepository(db, this.changes);
    this.instances = new InstancesRepository(db, this.changes);
    this.vms = new VmsRepository(db);
    this.disks = new DisksRepository(db);
    this.diskMigrations = new DiskMigrationsRepository(db);
    this.tasks = new TasksRepository(db);
    this.taskEvents = new TaskEventsRepository(db);
    this.auditEvents = new AuditEventsRepository(db);
    this.alerts = new AlertsRepository(db);
    this.locks = new LocksRepository(db);
    this.config = new ConfigRepository(db);
    this.resurrectionStops = new ResurrectionStopsRepository(db);
    this.stemcells = new StemcellsRepository(db);
    this.dnsState = new DnsStateRepository(db);
    this.cloudConfigs = new CloudConfigsRepository(db);
    this.ipReservations = new IpReservationsRepository(db);
  }

  static async create(config: DatabaseConfig): Promise<Store> {
    return new Store(await createDatabase(config));
  }

  get db(): OpenDatabase['db'] {
    return this.database.db;
  }

  async close(): Promise<void> {
    await this.database.close();
  }
}

export type { DatabaseConfig } from './database.js';
export type { DeploymentRecord } from './repositories/deployments.js';
export type { InstanceRecord, DesiredState } from './repositories/instances.js';
export type { VmRecord } from './repositories/vms.js';
export type { DiskRecord, DiskState } from './repositories/disks.js';
export type { DiskMigrationPhase, DiskMigrationRecord } from './repositories/disk-migrations.js';
export type { TaskRecord } from './repositories/tasks.js';
export type { StemcellRecord } from './repositories/stemcells.js';
export type { DnsStateRecord } from './repositories/dns-state.js';
export type { StoreChange, StoreChangeListener } from './change-feed.js';
export type { CloudConfigRecord } from './repositories/cloud-configs.js';
export type { IpReservationRecord } from './repositories/ip-reservations.js';
