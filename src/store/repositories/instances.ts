import { sql, type Kysely } from 'kysely';
import type { ChangeFeed } from '../change-feed.js';
import type { DatabaseSchema, InstancesTable } from '../schema.js';
import type { VmNetworks } from '../../cloud/cloud.js';

export type DesiredState = 'started' | 'stopped';

export interface InstanceRecord {
  id: string;
  deployment: string;
  group: string;
  index: number;
  desired: DesiredState;
  vmCid: string | null;
  agentId: string | null;
  ip: string | null;
  specJson: string | null;
  specHash: string | null;
  lastHeartbeatAt: string | null;
  jobState: string | null;
  createdAt: string;
  /** The stemcell the instance's VM booted (null: none recorded, e.g. a VM from before stemcells). */
  stemcell: { name: string; version: string } | null;
  /** The AZ the instance is placed in (null: none, the group names no azs). */
  az: string | null;
  /** The cloud properties its VM was created with (null: not recorded). */
  cloudProperties: Record<string, unknown> | null;
  /** The networks its VM was created with (null: not recorded). */
  networks: VmNetworks | null;
}

function toRecord(r: InstancesTable): InstanceRecord {
  return {
    id: r.id,
    deployment: r.deployment,
    group: r.group_name,
    index: r.idx,
    desired: r.desired_state === 'stopped' ? 'stopped' : 'started',
    vmCid: r.vm_cid,
    agentId: r.agent_id,
    ip: r.ip,
    specJson: r.spec_json,
    specHash: r.spec_hash,
    lastHeartbeatAt: r.last_heartbeat_at,
    jobState: r.job_state,
    createdAt: r.created_at,
    stemcell: r.stemcell_name === null || r.stemcell_version === null ? null : { name: r.stemcell_name, version: r.stemcell_version },
    az: r.az ?? null,
    cloudProperties: r.cloud_properties_json == null ? null : (JSON.parse(r.cloud_properties_json) as Record<string, unknown>),
    networks: r.networks_json == null ? null : (JSON.parse(r.networks_json) as VmNetworks),
  };
}

export class InstancesRepository {
  constructor(
    private readonly db: Kysely<DatabaseSchema>,
    private readonly changes?: ChangeFeed,
  ) {}

  private changed(instanceId: string): void {
    this.changes?.emit({ table: 'instances', instanceId });
  }

  async listByDeployment(deployment: string): Promise<InstanceRecord[]> {
    const rows = await this.db
      .selectFrom('instances')
      .selectAll()
      .where('deployment', '=', deployment)
      .orderBy('group_name')
      .orderBy('idx')
      .execute();
    return rows.map(toRecord);
  }

  /** Every instance of every deployment (service discovery's record set covers them all). */
  async listAll(): Promise<InstanceRecord[]> {
    const rows = await this.db.selectFrom('instances').selectAll().orderBy('deployment').orderBy('group_name').orderBy('idx').execute();
    return rows.map(toRecord);
  }

  async get(id: string): Promise<InstanceRecord | undefined> {
    const r = await this.db.selectFrom('instances').selectAll().where('id', '=', id).executeTakeFirst();
    return r && toRecord(r);
  }

  async findBySlot(deployment: string, group: string, index: number): Promise<InstanceRecord | undefined> {
    const r = await this.db
      .selectFrom('instances')
      .selectAll()
      .where('deployment', '=', deployment)
      .where('group_name', '=', group)
      .where('idx', '=', index)
      .executeTakeFirst();
    return r && toRecord(r);
  }

  async findByAgentId(agentId: string): Promise<InstanceRecord | undefined> {
    const r = await this.db.selectFrom('instances').selectAll().where('agent_id', '=', agentId).executeTakeFirst();
    return r && toRecord(r);
  }

  async create(i: { id: string; deployment: string; group: string; index: number; desired?: DesiredState }): Promise<InstanceRecord> {
    const row: InstancesTable = {
      id: i.id,
      deployment: i.deployment,
      group_name: i.group,
      idx: i.index,
      desired_state: i.desired ?? 'started',
      vm_cid: null,
      agent_id: null,
      ip: null,
      spec_json: null,
      spec_hash: null,
      last_heartbeat_at: null,
      job_state: null,
      created_at: new Date().toISOString(),
      stemcell_name: null,
      stemcell_version: null,
      az: null,
      cloud_properties_json: null,
      networks_json: null,
    };
    await this.db.insertInto('instances').values(row).execute();
    this.changed(i.id);
    return toRecord(row);
  }

  async setVm(id: string, vm: { vmCid: string; agentId: string; ip: string | null } | null): Promise<void> {
    await this.db
      .updateTable('instances')
      .set(
        vm === null
          ? { vm_cid: null, agent_id: null, ip: null, job_state: null }
          : // A new VM's agent has reported nothing yet: the old VM's job state is not its.
            { vm_cid: vm.vmCid, agent_id: vm.agentId, ip: vm.ip, job_state: sql<string | null>`CASE WHEN vm_cid = ${vm.vmCid} THEN job_state ELSE NULL END` },
      )
      .where('id', '=', id)
      .execute();
    this.changed(id);
  }

  /**
   * Records the address of the instance's VM `vmCid` that its agent reported, only while none is
   * recorded (an address the cloud gave is never overwritten). True when it was recorded.
   */
  async learnIp(id: string, vmCid: string, ip: string): Promise<boolean> {
    const r = await this.db.updateTable('instances').set({ ip }).where('id', '=', id).where('vm_cid', '=', vmCid).where('ip', 'is', null).executeTakeFirst();
    const changed = Number(r.numUpdatedRows) > 0;
    if (changed) this.changed(id);
    return changed;
  }

  /** Records the stemcell the instance's new VM booted. */
  async setStemcell(id: string, stemcell: { name: string; version: string }): Promise<void> {
    await this.db.updateTable('instances').set({ stemcell_name: stemcell.name, stemcell_version: stemcell.version }).where('id', '=', id).execute();
  }

  /** Records the AZ the instance is placed in (null: its group names no azs). */
  async setAz(id: string, az: string | null): Promise<void> {
    await this.db.updateTable('instances').set({ az }).where('id', '=', id).execute();
  }

  /** Records the cloud properties the instance's new VM was created with. */
  /** Records the networks the instance's new VM was created with. */
  async setNetworks(id: string, networks: VmNetworks): Promise<void> {
    await this.db.updateTable('instances').set({ networks_json: JSON.stringify(networks) }).where('id', '=', id).execute();
  }

  async setCloudProperties(id: string, cloudProperties: Record<string, unknown>): Promise<void> {
    await this.db.updateTable('instances').set({ cloud_properties_json: JSON.stringify(cloudProperties) }).where('id', '=', id).execute();
  }

  async setApplied(id: string, specJson: string, specHash: string): Promise<void> {
    await this.db.updateTable('instances').set({ spec_json: specJson, spec_hash: specHash }).where('id', '=', id).execute();
    this.changed(id);
  }

  async setDesired(id: string, desired: DesiredState): Promise<void> {
    await this.db.updateTable('instances').set({ desired_state: desired }).where('id', '=', id).execute();
    this.changed(id);
  }

  /** What `bosun instances` shows of the last heartbeat (the health monitor keeps the heartbeat itself). */
  async recordHeartbeat(id: string, at: string, jobState: string): Promise<void> {
    await this.db
      .updateTable('instances')
      .set({ last_heartbeat_at: at, job_state: jobState })
      .where('id', '=', id)
      .execute();
  }

  /** The job state the director itself observed (after a deploy's watch), until the next heartbeat. */
  async setJobState(id: string, jobState: string): Promise<void> {
    await this.db.updateTable('instances').set({ job_state: jobState }).where('id', '=', id).execute();
  }

  async delete(id: string): Promise<void> {
    await this.db.deleteFrom('instances').where('id', '=', id).execute();
    this.changed(id);
  }
}
