import type { Kysely } from 'kysely';
import type { DatabaseSchema, VmsTable } from '../schema.js';

export interface VmRecord {
  cid: string;
  agentId: string;
  instanceId: string;
  ip: string | null;
  createdAt: string;
}

function toRecord(r: VmsTable): VmRecord {
  return { cid: r.cid, agentId: r.agent_id, instanceId: r.instance_id, ip: r.ip, createdAt: r.created_at };
}

export class VmsRepository {
  constructor(private readonly db: Kysely<DatabaseSchema>) {}

  async create(vm: Omit<VmRecord, 'createdAt'>): Promise<VmRecord> {
    const row: VmsTable = { cid: vm.cid, agent_id: vm.agentId, instance_id: vm.instanceId, ip: vm.ip, created_at: new Date().toISOString() };
    await this.db.insertInto('vms').values(row).execute();
    return toRecord(row);
  }

  async get(cid: string): Promise<VmRecord | undefined> {
    const r = await this.db.selectFrom('vms').selectAll().where('cid', '=', cid).executeTakeFirst();
    return r && toRecord(r);
  }

  async listByInstances(instanceIds: string[]): Promise<VmRecord[]> {
    if (instanceIds.length === 0) return [];
    const rows = await this.db.selectFrom('vms').selectAll().where('instance_id', 'in', instanceIds).orderBy('created_at').execute();
    return rows.map(toRecord);
  }

  async listCids(): Promise<string[]> {
    const rows = await this.db.selectFrom('vms').select('cid').execute();
    return rows.map((r) => r.cid);
  }

  /** The VM's address its agent reported, only while none is recorded (see InstancesRepository.learnIp). */
  async learnIp(cid: string, ip: string): Promise<void> {
    await this.db.updateTable('vms').set({ ip }).where('cid', '=', cid).where('ip', 'is', null).execute();
  }

  async delete(cid: string): Promise<void> {
    await this.db.deleteFrom('vms').where('cid', '=', cid).execute();
  }
}
