/**
 * What the director shows without changing anything: deployments, instances (with `ps`/vitals
 * from the agents), VMs, disks, tasks, events, alerts and locks, read from the store.
 */
import { NotFoundError } from '../common/errors.js';
import type { AgentApi } from '../common/contracts/agent-protocol.js';
import type { AgentConnector } from '../common/contracts/agent-connector.js';
import type { AuditEvent, Alert, DeploymentSummary, DiskInfo, InstanceInfo, LockInfo, TaskEvent, TaskInfo, VmInfo } from '../common/contracts/api.js';
import type { InstanceRecord, Store } from '../store/store.js';
import { describeInstance } from './instance-view.js';

export function notFoundDeployment(name: string): NotFoundError {
  return new NotFoundError(`Deployment "${name}" does not exist; list deployments with "bosun deployments".`);
}

export class DirectorReadModels {
  constructor(
    private readonly store: Store,
    private readonly agents: AgentConnector,
    private readonly agentCallTimeoutMs: number,
    private readonly globalResurrection: () => Promise<boolean>,
  ) {}

  async requireDeployment(name: string): Promise<void> {
    if ((await this.store.deployments.get(name)) === undefined) throw notFoundDeployment(name);
  }

  agentFor(r: InstanceRecord): AgentApi | null {
    if (r.vmCid === null || r.agentId === null) return null;
    return this.agents.connect({ agentId: r.agentId, vmCid: r.vmCid, ip: r.ip });
  }

  async listDeployments(): Promise<DeploymentSummary[]> {
    const global = await this.globalResurrection();
    const out: DeploymentSummary[] = [];
    for (const d of await this.store.deployments.list()) {
      const instances = await this.store.instances.listByDeployment(d.name);
      out.push({ name: d.name, instances: instances.length, lastDeployedAt: d.lastDeployedAt, resurrection: d.resurrection ?? global });
    }
    return out;
  }

  async getDeployment(name: string): Promise<DeploymentSummary> {
    const found = (await this.listDeployments()).find((d) => d.name === name);
    if (found === undefined) throw notFoundDeployment(name);
    return found;
  }

  async getManifest(name: string): Promise<string> {
    const d = await this.store.deployments.get(name);
    if (d === undefined) throw notFoundDeployment(name);
    if (d.manifest === null) throw new NotFoundError(`Deployment "${name}" has never been deployed successfully, so it has no manifest yet; deploy it first.`);
    return d.manifest;
  }

  async listInstances(deployment: string, options: { ps?: boolean; vitals?: boolean } = {}): Promise<InstanceInfo[]> {
    await this.requireDeployment(deployment);
    const records = await this.store.instances.listByDeployment(deployment);
    return Promise.all(
      records.map(async (r) => {
        const disks = await this.store.disks.activeForInstance(r.id);
        // A VM whose address is not known yet (its agent's heartbeat tells it) is shown as recorded.
        return describeInstance(r, disks, r.ip === null ? null : this.agentFor(r), options, this.agentCallTimeoutMs);
      }),
    );
  }

  async listVms(deployment: string): Promise<VmInfo[]> {
    await this.requireDeployment(deployment);
    const records = await this.store.instances.listByDeployment(deployment);
    const byId = new Map(records.map((r) => [r.id, r]));
    const vms = await this.store.vms.listByInstances(records.map((r) => r.id));
    return vms.map((vm) => {
      const r = byId.get(vm.instanceId);
      return {
        vmCid: vm.cid,
        ip: vm.ip,
        agentId: vm.agentId,
        instance: r === undefined ? vm.instanceId : `${r.group}/${r.index}`,
        state: r?.jobState ?? 'unknown',
        createdAt: vm.createdAt,
      };
    });
  }

  async listDisks(options: { deployment?: string; orphaned?: boolean }): Promise<DiskInfo[]> {
    const disks = await this.store.disks.list(options);
    const names = new Map<string, string>();
    for (const d of disks) {
      if (d.instanceId === null || names.has(d.instanceId)) continue;
      const r = await this.store.instances.get(d.instanceId);
      if (r !== undefined) names.set(d.instanceId, `${r.group}/${r.index}`);
    }
    return disks.map((d) => ({
      diskCid: d.cid,
      sizeMiB: d.sizeMiB,
      deployment: d.deployment,
      instance: d.instanceId === null ? null : (names.get(d.instanceId) ?? d.instanceId),
      state: d.state,
      createdAt: d.createdAt,
      orphanedAt: d.orphanedAt,
    }));
  }

  listTasks(options: { recent?: number; deployment?: string }): Promise<TaskInfo[]> {
    const query: { recent: number; deployment?: string } = { recent: options.recent ?? 30 };
    if (options.deployment !== undefined) query.deployment = options.deployment;
    return this.store.tasks.list(query).then((ts) => ts.map(({ cancelRequested: _, ...t }) => t));
  }

  taskEvents(id: number, afterSeq?: number): Promise<TaskEvent[]> {
    return this.store.taskEvents.list(id, afterSeq ?? 0);
  }

  listEvents(options: { deployment?: string; limit?: number }): Promise<AuditEvent[]> {
    return this.store.auditEvents.list(options);
  }

  listAlerts(options: { deployment?: string; limit?: number }): Promise<Alert[]> {
    return this.store.alerts.list(options);
  }

  listLocks(): Promise<LockInfo[]> {
    return this.store.locks.list();
  }
}
