/**
 * The director's self-healing parts wired together: the health monitor (it only raises alerts
 * and reports what it found), the alert center with its responders, the resurrector and
 * cloud-check. The last two replace VMs through the shared replace-VM operation
 * (deploy/replace-vm.ts), bound here to the director's store, cloud and last deployed manifests.
 * Director.create builds one; `start` runs the monitor loop, `close` stops it.
 */
import { ConflictError } from '../common/errors.js';
import type { InstanceSpec } from '../common/contracts/instance-spec.js';
import type { Store } from '../store/store.js';
import type { Alert } from '../common/contracts/api.js';
import { CloudCheck } from './cloud-check/cloud-check.js';
import type { Deployer } from './deploy/deployer.js';
import type { InstanceDeps } from './deploy/instance-deps.js';
import type { InstanceRecord } from '../store/store.js';
import { storeVmRecords } from './deploy/vm-records.js';
import { deployedStemcell, deployedVmGroup, vmPorts, type NewVmShape } from './deploy/vm-steps.js';
import { AlertCenter } from './health/alerts.js';
import type { HealthSettings } from './health/config.js';
import { HealthMonitor } from './health/health-monitor.js';
import type {
  AlertStore,
  HealthStore,
  MonitoredDisk,
  MeltdownStore,
  MonitoredInstance,
  TaskHandle,
  TaskRunnerPort,
  TaskStep,
} from './health/ports.js';
import { ResponderDispatcher } from './health/responders/dispatcher.js';
import { createResponders } from './health/responders/create-responders.js';
import { VmReplacer } from './resurrector/instance-recreator.js';
import { Resurrector } from './resurrector/resurrector.js';
import type { TaskRunner } from './tasks/task-runner.js';

export interface SelfHealingDeps extends InstanceDeps {
  tasks: TaskRunner;
  deployer: Deployer;
  settings: HealthSettings;
  /** The global resurrection flag as the director keeps it. */
  globalResurrection(): Promise<boolean>;
}

export class SelfHealing {
  readonly alerts: AlertCenter;
  readonly dispatcher: ResponderDispatcher;
  readonly monitor: HealthMonitor;
  readonly resurrector: Resurrector;
  readonly cloudCheck: CloudCheck;

  constructor(deps: SelfHealingDeps) {
    const logger = deps.logger.child({ component: 'health' });
    const store = new StoreHealthAdapter(deps.store, deps.globalResurrection);
    const tasks = new TaskRunnerAdapter(deps.tasks);
    this.dispatcher = new ResponderDispatcher(
      createResponders(deps.settings.responders, logger, deps.config.name),
      logger,
    );
    this.alerts = new AlertCenter(store, this.dispatcher, logger);
    const r = deps.settings.resurrector;
    const recreator = new VmReplacer({
      ports: vmPorts({ ...deps, logger }, (owner) => deployedVmShape(deps, owner), {
        agentCallTimeoutMs: deps.config.agentCallTimeoutMs,
        applyTimeoutMs: deps.config.applyTimeoutMs,
        agentWaitTimeoutMs: r.agentWaitTimeoutMs,
        agentPingIntervalMs: Math.min(deps.config.agentPingIntervalMs, 250),
        vmDeleteTimeoutMs: r.vmDeleteTimeoutMs,
        pollIntervalMs: 200,
      }),
      converge: {
        applyTimeoutMs: deps.config.applyTimeoutMs,
        agentCallTimeoutMs: deps.config.agentCallTimeoutMs,
        watchPollIntervalMs: Math.min(deps.config.watchPollIntervalMs, 200),
      },
      watchTimeoutMs: r.watchTimeoutMs,
    });
    const holder: { monitor?: HealthMonitor } = {};
    this.resurrector = new Resurrector({
      store,
      tasks,
      recreator,
      alerts: this.alerts,
      config: r,
      logger,
      meltdowns: store,
      stillUnhealthy: async (u) =>
        u.problem === 'no_vm'
          ? u.instance.vmCid === null
          : u.problem === 'missing_vm'
            ? !(await deps.cloud.hasVm(u.instance.vmCid ?? ''))
            : !holder.monitor?.isResponsive(u.instance.agentId ?? ''),
      onRecreated: (before) => {
        if (before.agentId) holder.monitor?.forgetAgent(before.agentId);
      },
    });
    this.monitor = new HealthMonitor({
      store,
      cloud: deps.cloud,
      tasks,
      alerts: this.alerts,
      config: deps.settings.health,
      logger,
      listener: this.resurrector,
    });
    holder.monitor = this.monitor;
    this.cloudCheck = new CloudCheck({
      store,
      cloud: deps.cloud,
      agents: deps.agents,
      tasks,
      recreator,
      logger,
      agentCallTimeoutMs: deps.config.agentCallTimeoutMs,
      timeouts: r,
      onResolved: (d) => this.resurrector.operatorReset(d),
    });
  }

  start(): void {
    this.monitor.start();
  }

  /** Stops the monitor; alerts still being delivered get a moment, not the responders' full timeouts. */
  async close(): Promise<void> {
    await this.monitor.stop();
    await Promise.race([this.dispatcher.drain(), new Promise((r) => setTimeout(r, 2000).unref())]);
  }
}

/** The health parts' view of the store. */
class StoreHealthAdapter implements HealthStore, AlertStore, MeltdownStore {
  constructor(
    private readonly store: Store,
    private readonly globalResurrection: () => Promise<boolean>,
  ) {}

  async listInstances(deployment?: string): Promise<MonitoredInstance[]> {
    const deployments =
      deployment !== undefined
        ? [await this.store.deployments.get(deployment)].filter((d) => d !== undefined)
        : await this.store.deployments.list();
    const out: MonitoredInstance[] = [];
    for (const { name, manifest, lastDeployedAt } of deployments) {
      // No successful deploy yet: nothing to recreate its instances from.
      const deployedAt = manifest === null ? null : (lastDeployedAt ?? '');
      const [records, disks] = await Promise.all([
        this.store.instances.listByDeployment(name),
        this.store.disks.list({ deployment: name }),
      ]);
      for (const r of records) {
        out.push({
          id: r.id,
          deployment: r.deployment,
          group: r.group,
          index: r.index,
          desired: r.desired,
          vmCid: r.vmCid,
          agentId: r.agentId,
          ip: r.ip,
          disks: disks
            .filter((d) => d.instanceId === r.id)
            .map((d): MonitoredDisk => ({
              diskCid: d.cid,
              sizeMiB: d.sizeMiB,
              active: d.state === 'active',
              hint: d.hint,
            })),
          spec: parseSpec(r.specJson),
          deployedAt,
        });
      }
    }
    return out;
  }

  setInstanceVm(instanceId: string, vm: { vmCid: string; agentId: string; ip: string | null } | null): Promise<void> {
    return storeVmRecords(this.store).setInstanceVm(instanceId, vm);
  }

  setDiskHint(diskCid: string, hint: MonitoredDisk['hint'] | null): Promise<void> {
    return this.store.disks.setHint(diskCid, hint);
  }

  deleteDiskRecord(diskCid: string): Promise<void> {
    return this.store.disks.delete(diskCid);
  }

  async activateDisk(diskCid: string, instanceId: string): Promise<void> {
    // The disks repository has no "activate" (only cck needs it), so the one update is written here.
    await this.store.db
      .updateTable('disks')
      .set({ state: 'active', instance_id: instanceId, orphaned_at: null })
      .where('cid', '=', diskCid)
      .execute();
  }

  async orphanedDisks(deployment: string): Promise<MonitoredDisk[]> {
    return (await this.store.disks.list({ deployment, orphaned: true })).map((d) => ({
      diskCid: d.cid,
      sizeMiB: d.sizeMiB,
      active: false,
      hint: d.hint,
    }));
  }

  async resurrectionSettings(): Promise<{ global: boolean; deployments: Record<string, boolean | null> }> {
    const deployments: Record<string, boolean | null> = {};
    for (const d of await this.store.deployments.list()) deployments[d.name] = d.resurrection;
    return { global: await this.globalResurrection(), deployments };
  }

  loadMeltdowns(): Promise<Record<string, string>> {
    return this.store.resurrectionStops.list();
  }

  saveMeltdowns(meltdowns: Record<string, string>): Promise<void> {
    return this.store.resurrectionStops.replaceAll(meltdowns);
  }

  /** An alert is kept in the alerts table (`bosun alerts`) and as an event (`bosun events`). */
  async saveAlert(alert: Alert): Promise<void> {
    await this.store.alerts.record(alert);
    await this.store.auditEvents.record({
      user: 'health-monitor',
      action: 'alert',
      objectType: 'alert',
      objectName: alert.category,
      deployment: alert.deployment,
      instance: alert.instance,
      context: { alertId: alert.id, severity: alert.severity, title: alert.title, summary: alert.summary },
    });
  }

  listAlerts(options: { deployment?: string; limit?: number }): Promise<Alert[]> {
    return this.store.alerts.list(options);
  }
}

function parseSpec(json: string | null): InstanceSpec | null {
  if (json === null) return null;
  try {
    return JSON.parse(json) as InstanceSpec;
  } catch {
    return null;
  }
}

class TaskRunnerAdapter implements TaskRunnerPort {
  constructor(private readonly tasks: TaskRunner) {}

  lockedDeployments(): Promise<Set<string>> {
    return this.tasks.lockedDeployments();
  }

  async submit(
    options: { deployment: string; description: string; user: string },
    body: (log: (step: TaskStep) => void, signal?: AbortSignal) => Promise<unknown>,
  ): Promise<TaskHandle> {
    const info = await this.tasks.enqueue(options, async (ctx) => {
      const log = (s: TaskStep): void => {
        ctx
          .event({
            stage: s.stage,
            step: s.step,
            index: 1,
            total: 1,
            state: s.state,
            ...(s.error === undefined ? {} : { error: s.error }),
          })
          .catch(() => undefined);
      };
      const result = await body(log, ctx.signal);
      return result === undefined ? undefined : JSON.stringify(result);
    });
    return {
      id: info.id,
      done: this.tasks.wait(info.id).then(
        () => undefined,
        () => undefined,
      ),
    };
  }
}

/**
 * A replacement VM: its group's cloud properties and networks from the last successfully deployed
 * manifest, and the stemcell the instance is deployed with (not the newest uploaded).
 */
async function deployedVmShape(deps: SelfHealingDeps, owner: Pick<InstanceRecord, 'id' | 'deployment' | 'group' | 'index'>): Promise<NewVmShape> {
  const group = await deployedGroup(deps.deployer, owner);
  const record = await deps.store.instances.get(owner.id);
  const stemcell = await deployedStemcell(deps, { stemcell: record?.stemcell ?? null }, group).resolve();
  return { ...deployedVmGroup(record, group), stemcell };
}

/** The group a replacement VM is created for (cloud properties, networks), from the last successfully deployed manifest. */
async function deployedGroup(deployer: Deployer, instance: Pick<InstanceRecord, 'deployment' | 'group' | 'index'>) {
  const loaded = await deployer.deployedManifest(instance.deployment);
  if (loaded === null) {
    throw new ConflictError(
      `Deployment "${instance.deployment}" has no successful deploy to recreate ${instance.group}/${instance.index} from; deploy it first.`,
    );
  }
  const { plan } = await deployer.plan(loaded);
  const group = plan.groups.find((g) => g.name === instance.group);
  if (group === undefined) {
    throw new ConflictError(
      `Instance group "${instance.group}" is not in the last deployed manifest of "${instance.deployment}"; deploy again to remove or recreate ${instance.group}/${instance.index}.`,
    );
  }
  return group;
}
