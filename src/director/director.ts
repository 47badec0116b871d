/**
 * The director's engine: the DirectorService over the store, the cloud (through the guarded
 * wrapper), the agents, the task runner and the image registry. `Director.create` opens and
 * migrates the store, recovers tasks a crash left running, and wires everything; the HTTP layer
 * (src/director/api/) and tests drive it through DirectorService. What it only reads lives in
 * read-models.ts, heartbeat intake in heartbeat-intake.ts, start-up pieces in director-wiring.ts.
 */
import { randomUUID } from 'node:crypto';
import type { AgentAlert, AgentApi, Heartbeat } from '../common/contracts/agent-protocol.js';
import { DiskNotFoundError } from '../cloud/cloud.js';
import type { Cloud } from '../cloud/cloud.js';
import { GuardedCloud } from '../cloud/guarded-cloud.js';
import { ConflictError, NotFoundError, UnavailableError } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import { silentLogger } from '../common/logger.js';
import type { CertificateAuthority } from '../common/pki.js';
import { startHistoryPruner } from '../store/retention.js';
import { Store } from '../store/store.js';
import type { InstanceRecord } from '../store/store.js';
import type { AgentConnector } from '../common/contracts/agent-connector.js';
import { AgentKeyPool } from './agent-key-pool.js';
import { agentCredentialIssuer } from './agent-identity.js';
import { enforceManifestPolicy, type PolicyManifest } from './manifest-policy.js';
import { startOrphanedDiskSweeper } from './disks/orphan-sweeper.js';
import type * as api from '../common/contracts/api.js';
import { loadOrCreateCertificateAuthority } from './ca-files.js';
import { resolveDirectorConfig } from './config.js';
import type { DirectorConfig, DirectorConfigInput } from './config.js';
import { consoleLogReader } from './agent-client/agent-wait.js';
import { Deployer } from './deploy/deployer.js';
import type { AgentCredentials, InstanceDeps } from './deploy/instance-deps.js';
import { manifestModule } from './deploy/manifest-adapter.js';
import type { ManifestPort } from './deploy/plan.js';
import { withDeadline } from '../common/waiting.js';
import type { DirectorService } from './director-service.js';
import type { ImageRegistry } from './image-registry.js';
import { deleteDeployment } from './jobs/delete-deployment.js';
import { InstanceJobs } from './jobs/instance-jobs.js';
import { cloudDriver, cloudRetryPolicy, deleteVmsACrashLeft } from './director-wiring.js';
import { HeartbeatIntake } from './heartbeat-intake.js';
import { DirectorReadModels, notFoundDeployment } from './read-models.js';
import { TaskRunner } from './tasks/task-runner.js';
import { StemcellService } from './stemcells/stemcell-service.js';
import { CloudConfigService } from './cloud-config/cloud-config-service.js';
import { parseHealthSettings } from './health/config.js';
import { SelfHealing } from './self-healing.js';
import { DnsPublisher } from './dns/dns-publisher.js';
import { deploymentDnsView } from './dns/dns-view.js';
import { assertNoAliasClashes } from './dns/alias-clashes.js';
import { instanceDnsName } from '../common/dns-names.js';

export interface DirectorOptions {
  config: DirectorConfigInput;
  /** The cloud driver; wrapped in GuardedCloud unless `guardCloud` is false. */
  cloud: Cloud;
  agentConnector: AgentConnector;
  /** The manifest module behind a port; default: src/manifest via deploy/manifest-adapter.ts. */
  manifests?: ManifestPort;
  registry?: ImageRegistry;
  logger?: Logger;
  guardCloud?: boolean;
  /** Replaces certificate issuance for agents (tests: skip RSA key generation). */
  agentCredentials?: (agentId: string) => AgentCredentials;
  /**
   * health: the raw `health`, `resurrector` and `responders` sections of the director config file
   * (src/director/health/config.ts). Giving them starts the health monitor loop (and with it the
   * resurrector); without them it only runs when `startHealthMonitor` is true — director tests
   * drive the monitor themselves (director.health.monitor.analyze()).
   */
  health?: unknown;
  startHealthMonitor?: boolean;
}

export type CloudCheckHandler = (deployment: string, request: api.CckRequest, user: string) => Promise<api.TaskInfo>;

const CONFIG_DIRECTOR_UUID = 'director_uuid';
const CONFIG_RESURRECTION = 'resurrection';

/** Agent keys kept ready (see agent-key-pool.ts): one deploy batch of most manifests. */
const AGENT_KEY_POOL_SIZE = 8;

export class Director implements DirectorService {
  readonly deployer: Deployer;
  private orphanSweeper: { stop(): void } | null = null;
  private historyPruner: { stop(): Promise<void> } | null = null;
  private keyPool: AgentKeyPool | null = null;
  private readonly jobs: InstanceJobs;
  private readonly views: DirectorReadModels;
  private readonly heartbeats: HeartbeatIntake;
  private cloudCheckHandler: CloudCheckHandler | undefined;
  /** What the deploy steps use (store, guarded cloud, agents, config, credentials): for wiring the health parts. */
  readonly deps: InstanceDeps;
  /** Uploaded stemcells (src/director/stemcells/). */
  readonly stemcells: StemcellService;
  /** BOSH's cloud config (src/director/cloud-config/). */
  readonly cloudConfig: CloudConfigService;
  /** health: the monitor, alerts, resurrector and cloud-check; set by create(). */
  health!: SelfHealing;
  /** Service discovery: the record set and its pushes to every agent (src/director/dns/); set by create(). */
  dns!: DnsPublisher;

  private constructor(
    readonly config: DirectorConfig,
    readonly ca: CertificateAuthority,
    readonly store: Store,
    readonly cloud: Cloud,
    readonly agents: AgentConnector,
    readonly tasks: TaskRunner,
    readonly logger: Logger,
    readonly uuid: string,
    private readonly registry: ImageRegistry | undefined,
    private readonly manifests: ManifestPort,
    agentCredentials: (agentId: string) => AgentCredentials,
    driver: Cloud,
  ) {
    this.deps = {
      store,
      cloud,
      agents,
      config,
      logger,
      directorUuid: uuid,
      agentCredentials,
      creatingAgents: new Set(),
      consoleLog: consoleLogReader(driver),
      agentAddress: (agentId) => this.heartbeats.addressOf(agentId),
    };
    this.deployer = new Deployer(this.deps, manifests, tasks);
    this.jobs = new InstanceJobs(this.deps, this.deployer, tasks);
    this.stemcells = new StemcellService(store, cloud, tasks, `${config.dataDir}/stemcell-work`, logger);
    this.cloudConfig = new CloudConfigService(store, logger.child({ component: 'cloud-config' }));
    this.views = new DirectorReadModels(store, agents, config.agentCallTimeoutMs, () => this.globalResurrection());
    this.heartbeats = new HeartbeatIntake(store, () => this.health.monitor, this.deps.creatingAgents, (hb) => this.dns.recordHeartbeat(hb));
  }

  static async create(options: DirectorOptions): Promise<Director> {
    const config = resolveDirectorConfig(options.config);
    // health: its sections may set the heartbeat interval and the resurrection default; the
    // agents and the deployer then use the same values.
    const healthSettings = parseHealthSettings(options.health, {
      heartbeatIntervalMs: config.heartbeatIntervalMs,
      agentCallTimeoutMs: config.agentCallTimeoutMs,
      resurrectionEnabled: config.resurrectionDefault,
    });
    config.heartbeatIntervalMs = healthSettings.health.heartbeatIntervalMs;
    config.resurrectionDefault = healthSettings.resurrector.enabled;
    const logger = (options.logger ?? silentLogger).child({ component: 'director' });
    const ca = config.ca ?? loadOrCreateCertificateAuthority(config.dataDir);
    const store = await Store.create({ kind: 'sqlite', path: config.databasePath });
    let dns: DnsPublisher | undefined;
    try {
      let uuid = await store.config.get(CONFIG_DIRECTOR_UUID);
      if (uuid === undefined) {
        uuid = randomUUID();
        await store.config.set(CONFIG_DIRECTOR_UUID, uuid);
      }
      const driver = cloudDriver(options.cloud, config, store, uuid);
      const cloud =
        options.guardCloud === false ? driver : new GuardedCloud(driver, { logger, knownVmCids: () => store.vms.listCids(), retry: cloudRetryPolicy(config) });
      const tasks = new TaskRunner(store, logger.child({ component: 'tasks' }), { lockTtlMs: config.lockTtlMs });
      const interrupted = await tasks.recoverAfterRestart();
      if (interrupted.length > 0 && config.deleteUnknownVmsAfterCrash) await deleteVmsACrashLeft(cloud, store, logger);
      const keyPool = options.agentCredentials === undefined ? new AgentKeyPool(AGENT_KEY_POOL_SIZE, logger) : null;
      const credentials = options.agentCredentials ?? agentCredentialIssuer(ca, keyPool);
      const director = new Director(config, ca, store, cloud, options.agentConnector, tasks, logger, uuid, options.registry, options.manifests ?? manifestModule, credentials, options.cloud);
      director.keyPool = keyPool;
      director.dns = dns = await DnsPublisher.create({
        store,
        agents: options.agentConnector,
        manifests: options.manifests ?? manifestModule,
        logger: logger.child({ component: 'dns' }),
        pushTimeoutMs: Math.min(config.agentCallTimeoutMs, 5_000),
      });
      director.orphanSweeper = startOrphanedDiskSweeper(
        { store, logger, deleteDisk: (cid) => director.deleteDisk(cid, 'orphaned-disk-sweeper') },
        { retentionMs: config.orphanedDiskRetentionMs, intervalMs: config.orphanedDiskSweepIntervalMs },
      );
      // Old tasks, events, alerts and audit events: pruned now and then every interval.
      director.historyPruner = startHistoryPruner(
        store.db,
        { maxAgeMs: config.retentionMaxAgeMs, maxTasks: config.retentionMaxTasks, maxAlerts: config.retentionMaxAlerts, maxAuditEvents: config.retentionMaxAuditEvents },
        { intervalMs: config.retentionPruneIntervalMs, logger },
      );
      // health: built on top of the director's deps, deployer and task runner.
      director.health = new SelfHealing({
        ...director.deps,
        tasks,
        deployer: director.deployer,
        settings: healthSettings,
        globalResurrection: () => director.globalResurrection(),
      });
      // dns: the monitor's verdicts reach the record set too (a VM gone from the cloud is withdrawn at once).
      const resurrector = director.health.monitor.listener;
      director.health.monitor.listener = {
        onAnalysis: async (deployment, instances, unhealthy) => {
          director.dns.recordVmHealth(deployment, unhealthy.flatMap((u) => (u.problem === 'missing_vm' && u.instance.vmCid !== null ? [u.instance.vmCid] : [])));
          await resurrector?.onAnalysis(deployment, instances, unhealthy);
        },
      };
      director.useCloudCheck(async (deployment, request, user) => director.tasks.get((await director.health.cloudCheck.submit(deployment, request, user)).id));
      if (options.startHealthMonitor ?? options.health !== undefined) director.health.start();
      return director;
    } catch (err) {
      await dns?.close();
      await store.close();
      throw err;
    }
  }

  /** Waits for running tasks, then closes the store. */
  async close(): Promise<void> {
    this.orphanSweeper?.stop();
    await this.historyPruner?.stop();
    this.keyPool?.close();
    await this.health.close();
    await this.tasks.drain();
    await this.dns.close();
    await this.store.close();
  }

  async info(): Promise<api.DirectorInfo> {
    const cloud = await this.cloud.info();
    return { name: this.config.name, uuid: this.uuid, version: this.config.version, cloud: cloud.name, registry: this.registry?.host ?? null };
  }

  async diff(request: api.DeployRequest): Promise<api.DiffResponse> {
    this.enforceManifestPolicy(request.manifest);
    assertNoAliasClashes(this.manifests, request.manifest, await this.store.deployments.list());
    return this.deployer.diff(request);
  }

  async deploy(request: api.DeployRequest, user: string): Promise<api.TaskInfo> {
    this.enforceManifestPolicy(request.manifest);
    assertNoAliasClashes(this.manifests, request.manifest, await this.store.deployments.list());
    return this.deployer.deploy(request, user);
  }

  /** The director's manifest_policy, checked before any task exists (manifest-policy.ts). */
  private enforceManifestPolicy(text: string): void {
    const policy = this.config.manifestPolicy;
    if (policy.allowPrivileged && policy.allowDevices && policy.allowCapAdds) return;
    enforceManifestPolicy(this.manifests.load(text).manifest as PolicyManifest, text, policy);
  }

  listDeployments(): Promise<api.DeploymentSummary[]> {
    return this.views.listDeployments();
  }

  getDeployment(name: string): Promise<api.DeploymentSummary> {
    return this.views.getDeployment(name);
  }

  getManifest(name: string): Promise<string> {
    return this.views.getManifest(name);
  }

  async deleteDeployment(name: string, user: string, options: { force?: boolean } = {}): Promise<api.TaskInfo> {
    if ((await this.store.deployments.get(name)) === undefined) throw notFoundDeployment(name);
    const force = options.force === true;
    return this.tasks.enqueue({ description: `delete deployment${force ? ' (force)' : ''}`, deployment: name, user }, (ctx) =>
      deleteDeployment(this.deps, ctx, name, force),
    );
  }

  async listInstances(deployment: string, options: { ps?: boolean; vitals?: boolean } = {}): Promise<api.InstanceInfo[]> {
    const instances = await this.views.listInstances(deployment, options);
    // Each instance's DNS names, from the containers the record set knows for it.
    const known = new Map(this.dns.recordSet.instances.filter((i) => i.deployment === deployment).map((i) => [i.instanceId, i]));
    return instances.map((i) => {
      const containers = known.get(i.id)?.containers.map((c) => c.name) ?? [];
      return { ...i, dnsNames: containers.map((c) => instanceDnsName(deployment, i.group, c, i.index)) };
    });
  }

  /** The deployment's part of the DNS record set, as `bosun dns` shows it. */
  async getDns(deployment: string): Promise<api.DeploymentDns> {
    await this.requireDeployment(deployment);
    const records = await this.store.instances.listAll();
    const agentIds = records.flatMap((r) => (r.vmCid !== null && r.agentId !== null ? [r.agentId] : []));
    return deploymentDnsView(this.dns.recordSet, deployment, this.dns.agentVersions(), agentIds);
  }

  listVms(deployment: string): Promise<api.VmInfo[]> {
    return this.views.listVms(deployment);
  }

  listDisks(options: { deployment?: string; orphaned?: boolean }): Promise<api.DiskInfo[]> {
    return this.views.listDisks(options);
  }

  async deleteDisk(diskCid: string, user: string): Promise<api.TaskInfo> {
    const disk = await this.store.disks.get(diskCid);
    if (disk === undefined) throw new NotFoundError(`Disk ${diskCid} is not known to the director; list disks with "bosun disks --orphaned".`);
    if (disk.state !== 'orphaned') {
      throw new ConflictError(`Disk ${diskCid} is in use by an instance; only orphaned disks can be deleted (scale down or delete the deployment first).`);
    }
    if ((await this.store.diskMigrations.inUse()).has(diskCid)) {
      throw new ConflictError(`Disk ${diskCid} is part of an unfinished disk resize; deploy the deployment again to finish it, then delete the disk.`);
    }
    return this.tasks.enqueue({ description: `delete disk ${diskCid}`, deployment: null, user, locks: [`disk:${diskCid}`] }, async (ctx) => {
      await ctx.step('Deleting orphaned disk', diskCid, 1, 1, async () => {
        try {
          await this.cloud.deleteDisk(diskCid);
        } catch (err) {
          if (!(err instanceof DiskNotFoundError)) throw err;
        }
        await this.store.disks.delete(diskCid);
      });
    });
  }

  runJob(deployment: string, request: api.JobRequest, user: string): Promise<api.TaskInfo> {
    return this.jobs.run(deployment, request, user);
  }

  async fetchLogs(deployment: string, group: string, index: number, container: string | undefined, lines: number): Promise<string> {
    const { record, agent } = await this.requireAgent(deployment, group, index);
    const t = this.config.agentCallTimeoutMs;
    if (container !== undefined) return withDeadline(t, `fetching logs from ${group}/${index}`, () => agent.fetchLogs(container, lines));
    const state = await withDeadline(t, `asking ${group}/${index} for its containers`, () => agent.getState());
    const parts: string[] = [];
    for (const c of state.containers) {
      const log = await withDeadline(t, `fetching logs of ${c.name} on ${group}/${index}`, () => agent.fetchLogs(c.name, lines));
      parts.push(`==> ${record.group}/${record.index} ${c.name} <==\n${log}`);
    }
    return parts.join('\n');
  }

  async runCommand(deployment: string, group: string, index: number, command: string, user: string): Promise<api.RunCommandResponse> {
    const { record, agent } = await this.requireAgent(deployment, group, index);
    await this.store.auditEvents.record({
      user,
      action: 'ssh',
      objectType: 'instance',
      objectName: `${group}/${index}`,
      deployment,
      instance: record.id,
      context: { command },
    });
    return agent.runCommand(command);
  }

  listTasks(options: { recent?: number; deployment?: string }): Promise<api.TaskInfo[]> {
    return this.views.listTasks(options);
  }

  getTask(id: number): Promise<api.TaskInfo> {
    return this.tasks.get(id);
  }

  async taskEvents(id: number, afterSeq?: number): Promise<api.TaskEvent[]> {
    await this.tasks.get(id);
    return this.views.taskEvents(id, afterSeq);
  }

  async cancelTask(id: number, user: string): Promise<api.TaskInfo> {
    const t = await this.tasks.cancel(id);
    await this.store.auditEvents.record({ user, action: 'cancel_task', objectType: 'task', objectName: String(id), deployment: t.deployment, taskId: id });
    return t;
  }

  listEvents(options: { deployment?: string; limit?: number }): Promise<api.AuditEvent[]> {
    return this.views.listEvents(options);
  }

  listAlerts(options: { deployment?: string; limit?: number }): Promise<api.Alert[]> {
    return this.views.listAlerts(options);
  }

  listLocks(): Promise<api.LockInfo[]> {
    return this.views.listLocks();
  }

  async setResurrection(enabled: boolean, deployment: string | undefined, user: string): Promise<void> {
    if (deployment !== undefined) {
      await this.requireDeployment(deployment);
      await this.store.deployments.setResurrection(deployment, enabled);
    } else {
      await this.store.config.set(CONFIG_RESURRECTION, enabled ? 'true' : 'false');
    }
    await this.store.auditEvents.record({
      user,
      action: enabled ? 'enable_resurrection' : 'disable_resurrection',
      objectType: deployment === undefined ? 'director' : 'deployment',
      objectName: deployment ?? this.config.name,
      deployment: deployment ?? null,
    });
    // health: turning resurrection (back) on is the operator's word that a meltdown is over.
    if (enabled) await this.health.resurrector.operatorReset(deployment);
  }

  /** The global resurrection flag (deployments without their own setting follow it). */
  async globalResurrection(): Promise<boolean> {
    const v = await this.store.config.get(CONFIG_RESURRECTION);
    return v === undefined ? this.config.resurrectionDefault : v === 'true';
  }

  /**
   * Plugs in the real cloud-check (the health part builds it on top of this director, so it is
   * set after create). Until then cloudCheck is a task that fails with "not implemented yet".
   */
  useCloudCheck(handler: CloudCheckHandler): void {
    this.cloudCheckHandler = handler;
  }

  async cloudCheck(deployment: string, request: api.CckRequest, user: string): Promise<api.TaskInfo> {
    await this.requireDeployment(deployment);
    if (this.cloudCheckHandler !== undefined) return this.cloudCheckHandler(deployment, request, user);
    return this.tasks.enqueue({ description: 'scan and fix', deployment, user }, () =>
      Promise.reject(new UnavailableError('cloud-check is not implemented yet in this director; use "bosun recreate GROUP/INDEX" to replace a broken VM.')),
    );
  }

  async listImages(): Promise<api.ImageInfo[]> {
    return this.registry === undefined ? [] : this.registry.listImages();
  }

  async uploadImage(tarPath: string, name: string | undefined, user: string): Promise<api.TaskInfo> {
    const registry = this.registry;
    if (registry === undefined) {
      throw new UnavailableError('This director runs without an image registry, so images cannot be uploaded; start it with the registry enabled.');
    }
    return this.tasks.enqueue({ description: `upload image${name === undefined ? '' : ` ${name}`}`, deployment: null, user, locks: ['images'] }, async (ctx) => {
      const images = await ctx.step('Uploading image', name ?? tarPath, 1, 1, () =>
        registry.uploadImage(tarPath, name, (message, detail) =>
          void ctx
            .event({ stage: 'Uploading image', step: message, index: 1, total: 1, state: 'in_progress', ...(detail?.percent === undefined ? {} : { progress: detail.percent }), ...(detail?.transient ? { data: { transient: true } } : {}) })
            .catch(() => undefined),
        ),
      );
      return JSON.stringify(images);
    });
  }

  getCloudConfig(): Promise<api.CloudConfigInfo> {
    return this.cloudConfig.get();
  }

  diffCloudConfig(text: string): Promise<api.CloudConfigDiffResponse> {
    return this.cloudConfig.diff(text);
  }

  updateCloudConfig(text: string, user: string): Promise<api.CloudConfigInfo> {
    return this.cloudConfig.update(text, user);
  }

  listStemcells(): Promise<api.StemcellInfo[]> {
    return this.stemcells.list();
  }

  uploadStemcell(tarPath: string, user: string): Promise<api.TaskInfo> {
    return this.stemcells.upload(tarPath, user);
  }

  deleteStemcell(name: string, version: string, user: string): Promise<api.TaskInfo> {
    return this.stemcells.delete(name, version, user);
  }

  recordHeartbeat(heartbeat: Heartbeat): Promise<void> {
    return this.heartbeats.recordHeartbeat(heartbeat);
  }

  recordAgentAlert(alert: AgentAlert): Promise<void> {
    return this.heartbeats.recordAgentAlert(alert);
  }

  private requireDeployment(name: string): Promise<void> {
    return this.views.requireDeployment(name);
  }

  private async requireAgent(deployment: string, group: string, index: number): Promise<{ record: InstanceRecord; agent: AgentApi }> {
    await this.requireDeployment(deployment);
    const record = await this.store.instances.findBySlot(deployment, group, index);
    if (record === undefined) throw new NotFoundError(`Deployment "${deployment}" has no instance ${group}/${index}; list them with "bosun instances".`);
    if (record.vmCid !== null && record.ip === null) {
      throw new ConflictError(
        `The address of instance ${group}/${index}'s VM ${record.vmCid} is not known yet: its cloud did not tell it and its agent has not sent a heartbeat; try again in a moment, or check the VM with "bosun vms".`,
      );
    }
    const agent = this.views.agentFor(record);
    if (agent === null) throw new ConflictError(`Instance ${group}/${index} has no VM right now; deploy or recreate it first.`);
    return { record, agent };
  }
}
