/**
 * The director's self-healing parts wired together: the health monitor, the alert center with its
 * responders, the resurrector and cloud-check, bound to the director's store, task runner,
 * deployer (for the new VM's request) and cloud. Director.create builds one; `start` runs the
 * monitor loop, `close` stops it.
 */
import { randomUUID } from 'node:crypto';
import type { AgentEnv, Cloud, CreateVmRequest, VmNetworks } from '../../cloud/cloud.js';
import type { Logger } from '../../common/logger.js';
import { ConflictError, errorMessage } from '../../common/errors.js';
import type { InstanceSpec } from '../../common/contracts/instance-spec.js';
import type { Store } from '../../store/store.js';
import type { AgentConnector } from '../../common/contracts/agent-connector.js';
import type { Alert } from '../../common/contracts/api.js';
import type { DirectorConfig } from '../config.js';
import { waitForAgent, type ConsoleLogReader } from '../deploy/agent-wait.js';
import type { Deployer } from '../deploy/deployer.js';
import type { AgentCredentials } from '../deploy/instance-deps.js';
import type { TaskRunner } from '../tasks/task-runner.js';
import { CloudCheck } from '../cck/cloud-check.js';
import { FencedVmRecreator } from '../resurrector/recreate-vm.js';
import { Resurrector } from '../resurrector/resurrector.js';
import { AlertCenter } from './alerts.js';
import type { HealthSettings } from './config.js';
import { HealthMonitor } from './health-monitor.js';
import type {
  AlertStore,
  HealthStore,
  MonitoredDisk,
  MeltdownStore,
  MonitoredInstance,
  TaskHandle,
  TaskRunnerPort,
  TaskStep,
  VmRequestBuilder,
} from './ports.js';
import { ResponderDispatcher } from './responders/dispatcher.js';
import { createResponders } from './responders/create-responders.js';

export interface HealthSystemDeps {
  store: Store;
  cloud: Cloud;
  agents: AgentConnector;
  tasks: TaskRunner;
  deployer: Deployer;
  config: DirectorConfig;
  settings: HealthSettings;
  logger: Logger;
  agentCredentials(agentId: string): AgentCredentials;
  consoleLog?: ConsoleLogReader | undefined;
  /** The global resurrection flag as the director keeps it. */
  globalResurrection(): Promise<boolean>;
}

export class HealthSystem {
  readonly alerts: AlertCenter;
  readonly dispatcher: ResponderDispatcher;
  readonly monitor: HealthMonitor;
  readonly resurrector: Resurrector;
  readonly cloudCheck: CloudCheck;

  constructor(deps: HealthSystemDeps) {
    const logger = deps.logger.child({ component: 'health' });
    const store = new StoreHealthAdapter(deps.store, deps.globalResurrection);
    const tasks = new TaskRunnerAdapter(deps.tasks, deps.store);
    this.dispatcher = new ResponderDispatcher(
      createResponders(deps.settings.responders, logger, deps.config.name),
      logger,
    );
    this.alerts = new AlertCenter(store, this.dispatcher, logger);
    const r = deps.settings.resurrector;
    const recreator = new FencedVmRecreator({
      cloud: deps.cloud,
      store,
      vmRequests: new DeployedVmRequests(deps),
      agents: deps.agents,
      logger,
      timeouts: {
        ...r,
        callTimeoutMs: deps.config.agentTimeoutMs,
        applyTimeoutMs: deps.config.applyTimeoutMs,
      },
      agentReady: (agent, vm) =>
        waitForAgent({
          agent,
          cloud: deps.cloud,
          vmCid: vm.vmCid,
          agentId: vm.agentId,
          instance: vm.instance,
          timeoutMs: r.agentWaitTimeoutMs,
          pingIntervalMs: Math.min(deps.config.agentPingIntervalMs, 250),
          callTimeoutMs: deps.config.agentTimeoutMs,
          consoleLog: deps.consoleLog,
        }),
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
      agentTimeoutMs: deps.config.agentTimeoutMs,
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

/** Config-table key of the meltdown stops (deployment → ISO time tripped), kept across restarts. */
const CONFIG_MELTDOWNS = 'resurrector_meltdowns';

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

  async setInstanceVm(
    instanceId: string,
    vm: { vmCid: string; agentId: string; ip: string | null } | null,
  ): Promise<void> {
    const r = await this.store.instances.get(instanceId);
    if (r?.vmCid && r.vmCid !== vm?.vmCid) await this.store.vms.delete(r.vmCid);
    if (vm !== null && (await this.store.vms.get(vm.vmCid)) === undefined) {
      await this.store.vms.create({ cid: vm.vmCid, agentId: vm.agentId, instanceId, ip: vm.ip });
    }
    await this.store.instances.setVm(instanceId, vm);
  }

  setDiskHint(diskCid: string, hint: MonitoredDisk['hint']): Promise<void> {
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

  async loadMeltdowns(): Promise<Record<string, string>> {
    const v = await this.store.config.get(CONFIG_MELTDOWNS);
    if (v === undefined) return {};
    try {
      const parsed: unknown = JSON.parse(v);
      return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, string>) : {};
    } catch {
      return {};
    }
  }

  saveMeltdowns(meltdowns: Record<string, string>): Promise<void> {
    return this.store.config.set(CONFIG_MELTDOWNS, JSON.stringify(meltdowns));
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
  constructor(
    private readonly tasks: TaskRunner,
    private readonly store: Store,
  ) {}

  lockedDeployments(): Promise<Set<string>> {
    return this.tasks.lockedDeployments();
  }

  async submit(
    options: { deployment: string; description: string; user: string },
    body: (log: (step: TaskStep) => void) => Promise<unknown>,
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
      const result = await body(log);
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

/** The new VM's request, built from the last successfully deployed manifest, as the deployer builds it. */
class DeployedVmRequests implements VmRequestBuilder {
  constructor(private readonly deps: HealthSystemDeps) {}

  async build(instance: MonitoredInstance): Promise<CreateVmRequest> {
    const { deployer, config } = this.deps;
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
    const networks: VmNetworks = {};
    for (const [name, n] of Object.entries(group.networks)) {
      const ip = group.staticIps?.[name]?.[instance.index];
      networks[name] = ip === undefined ? { ...n } : { ...n, ip };
    }
    const agentId = `agent-${randomUUID()}`;
    let credentials: AgentCredentials;
    try {
      credentials = this.deps.agentCredentials(agentId);
    } catch (err) {
      throw new Error(`Could not issue the certificate of the new agent ${agentId}: ${errorMessage(err)}`, {
        cause: err,
      });
    }
    const env: AgentEnv = {
      directorUrl: config.directorUrl,
      caPem: credentials.caPem,
      certPem: credentials.certPem,
      keyPem: credentials.keyPem,
      ...(credentials.clientCertPem === undefined ? {} : { clientCertPem: credentials.clientCertPem }),
      ...(credentials.directorClientName === undefined ? {} : { directorClientName: credentials.directorClientName }),
      heartbeatIntervalMs: config.heartbeatIntervalMs,
      extra: {
        deployment: instance.deployment,
        group: instance.group,
        index: instance.index,
        instanceId: instance.id,
      },
    };
    if (config.registryHost !== undefined) env.registryHost = config.registryHost;
    return {
      agentId,
      stemcell: config.stemcell,
      cloudProperties: group.cloudProperties,
      networks,
      diskCids: [],
      env,
    };
  }
}
