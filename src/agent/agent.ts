import { join } from 'node:path';
import type { InstanceSpec } from '../common/contracts/instance-spec.js';
import type { AgentAlert, AgentApi, AgentState, Heartbeat, JobState, LongActionOptions, MountDiskRequest, RunCommandResult } from '../common/contracts/agent-protocol.js';
import type { AgentSettings } from '../common/contracts/agent-settings.js';
import type { DnsPush, DnsPushResult, DnsRecordSet } from '../common/contracts/dns-records.js';
import type { Logger } from '../common/logger.js';
import { ConflictError, InvalidInputError, errorMessage } from '../common/errors.js';
import { StateFile, type PersistedState } from './state-file.js';
import { DockerdSupervisor } from './docker-daemon/dockerd-supervisor.js';
import { ContainerManager } from './containers/container-manager.js';
import { FailureRestartsFile } from './containers/failure-restarts-file.js';
import { ImageEnsurer } from './images/image-ensurer.js';
import { DiskManager } from './disks/disk-manager.js';
import { createMigrateDiskAction, type MigrateDisk } from './disks/migrate-action.js';
import { VitalsReader } from './vitals.js';
import { DirectorClient } from './director-client.js';
import { HeartbeatLoop } from './heartbeat.js';
import { runCommand } from './run-command.js';
import { DependencyGraph } from './containers/dependency-graph.js';
import { Mutex } from '../common/mutex.js';
import { DnsService } from './dns/dns-service.js';
import { diskHintFor } from './settings/disk-hint-from-settings.js';

const DEFAULT_COMMAND_TIMEOUT_MS = 60_000;

export interface AgentOptions {
  /** The port the VM's DNS server answers on (53); null: no DNS server. */
  dnsPort?: number | null;
  /** The VM's resolv.conf: its nameservers are where other names are forwarded. */
  resolvConfPath?: string;
  /** Reads the settings again from their source (mount_disk without a disk hint looks the disk up there). */
  rereadSettings?: () => Promise<AgentSettings>;
}

/** Everything one VM's agent does, behind the AgentApi the HTTP server exposes. */
export class Agent implements AgentApi {
  private readonly stateFile: StateFile;
  private persisted: PersistedState = { spec: null, stopped: false, disks: [] };
  private readonly persistMutex = new Mutex();
  readonly dockerd: DockerdSupervisor;
  private readonly containers: ContainerManager;
  private readonly disks: DiskManager;
  /** migrate_disk: copies the store disk to the disk at the migration target (disk resize by copy). */
  readonly migrateDisk: MigrateDisk;
  private readonly vitals: VitalsReader;
  private readonly director: DirectorClient;
  private readonly heartbeats: HeartbeatLoop;
  /** Service discovery on this VM (set by create()). */
  private dns: DnsService | null = null;
  private rereadSettings: (() => Promise<AgentSettings>) | undefined;

  private constructor(
    private readonly settings: AgentSettings,
    private readonly log: Logger,
  ) {
    this.stateFile = new StateFile(settings.paths.ephemeral);
    this.director = new DirectorClient(settings);
    this.dockerd = new DockerdSupervisor(settings, log.child({ part: 'dockerd' }), {
      onUp: (restarted, onPurpose) => {
        this.containers.onDockerUp(restarted, onPurpose);
        if (restarted && !onPurpose) this.sendAlert(3, 'dockerd_failing', 'Docker daemon restarted', `The Docker daemon of VM ${settings.vmCid} died and was restarted; the agent is starting every container again in dependency order.`);
      },
      onDown: () => {
        this.log.warn('dockerd is down; containers will be started again when it is back');
        this.containers.onDockerDown();
      },
      onFailing: (lines) =>
        this.sendAlert(2, 'dockerd_failing', 'Docker daemon keeps failing', `The Docker daemon of VM ${settings.vmCid} does not stay up; its last log lines: ${lines.slice(-5).join(' | ')}`),
    });
    const docker = (): typeof this.dockerd.engine => this.dockerd.engine;
    const images = new ImageEnsurer(docker, log.child({ part: 'images' }));
    this.containers = new ContainerManager(
      docker,
      images,
      settings.paths.store,
      log.child({ part: 'containers' }),
      { alert: (category, container, title, summary) => this.sendAlert(2, category, title, summary, container) },
      () => this.dockerd.isUp,
      {
        dnsServer: () => this.dns?.serverAddress ?? null,
        onChange: () => this.onContainersChanged(),
        failureRestarts: new FailureRestartsFile(join(settings.paths.ephemeral, 'on-failure-restarts.json')),
      },
    );
    this.disks = new DiskManager({ store: settings.paths.store, migration: settings.paths.migration }, log.child({ part: 'disks' }), (disks) =>
      this.savePersisted({ disks }),
    );
    this.migrateDisk = createMigrateDiskAction({ store: settings.paths.store, migration: settings.paths.migration }, log.child({ part: 'migrate' }), this.disks);
    this.vitals = new VitalsReader(settings.paths, () => this.disks.isStoreMounted());
    this.heartbeats = new HeartbeatLoop(settings.heartbeatIntervalMs, () => this.heartbeat(), (hb) => this.director.heartbeat(hb), log.child({ part: 'heartbeat' }));
  }

  /** Loads the state file, re-mounts recorded disks and starts (or adopts) dockerd in the background. */
  static async create(settings: AgentSettings, log: Logger, options: AgentOptions = {}): Promise<Agent> {
    const agent = new Agent(settings, log);
    agent.rereadSettings = options.rereadSettings;
    agent.persisted = await agent.stateFile.load();
    agent.dns = await DnsService.create({
      address: settings.network.ip,
      port: options.dnsPort === undefined ? 53 : options.dnsPort,
      dataDir: settings.paths.ephemeral,
      ...(options.resolvConfPath === undefined ? {} : { resolvConfPath: options.resolvConfPath }),
      log: log.child({ part: 'dns' }),
    });
    agent.dns.useDockerDns(agent.persisted.spec?.docker.dns ?? []);
    agent.containers.load(agent.persisted.spec, agent.persisted.stopped);
    await agent.disks.restore(agent.persisted.disks);
    return agent;
  }

  /** Starts supervising: dockerd (then the containers, healed against the last applied spec) and heartbeats. */
  run(): void {
    // DNS first: containers created once dockerd is up get the VM's resolver.
    const dnsUp = this.dns ? this.dns.listen() : Promise.resolve();
    dnsUp.then(() => this.dockerd.start(this.persisted.spec?.docker ?? null)).then(
      () => undefined,
      (err: unknown) => this.log.error('cannot start dockerd', { error: errorMessage(err) }),
    );
    this.heartbeats.start();
  }

  close(): void {
    void this.dns?.close();
    this.heartbeats.stop();
    this.containers.close();
    this.dockerd.detach();
  }

  // ---- AgentApi --------------------------------------------------------------------------------

  ping(): Promise<'pong'> {
    return Promise.resolve('pong');
  }

  async getState(options: { vitals?: boolean } = {}): Promise<AgentState> {
    const containers = await this.containers.states(options.vitals === true);
    const state: AgentState = {
      agentId: this.settings.agentId,
      vmCid: this.settings.vmCid,
      jobState: this.jobState(containers),
      specHash: this.containers.currentSpec?.specHash ?? null,
      stopped: this.containers.stopped,
      dockerd: { state: this.dockerd.state, restarts: this.dockerd.restarts },
      containers,
      disks: this.disks.list().map((d) => d.diskCid),
    };
    if (this.dockerd.state !== 'running') state.dockerd.lastLogLines = this.dockerd.lastLogLines();
    if (options.vitals) state.vitals = await this.vitals.read();
    return state;
  }

  async apply(spec: InstanceSpec): Promise<void> {
    if (!spec || !Array.isArray(spec.containers)) throw new InvalidInputError('apply needs an instance spec with a `containers` list.');
    new DependencyGraph(spec.containers); // rejects cycles and unknown dependencies before anything changes
    // The spec is persisted first: if the agent dies half-way, its restart converges to it.
    await this.savePersisted({ spec });
    this.dns?.useDockerDns(spec.docker.dns);
    await this.dockerd.waitUntilUp();
    if (this.dockerd.optionsDiffer(spec.docker)) {
      // Containers die with dockerd: that is the agent's doing, not a crash of theirs.
      this.containers.expectAllDown();
      await this.dockerd.ensureOptions(spec.docker);
    }
    await this.containers.apply(spec);
  }

  async start(): Promise<void> {
    await this.savePersisted({ stopped: false });
    await this.dockerd.waitUntilUp();
    await this.containers.startAll();
  }

  async stop(): Promise<void> {
    await this.savePersisted({ stopped: true });
    await this.dockerd.waitUntilUp();
    await this.containers.stopAll();
  }

  async drain(): Promise<void> {
    await this.stop();
  }

  async mountDisk(request: MountDiskRequest, options: LongActionOptions = {}): Promise<void> {
    if (request?.diskCid && request.hint) request = { ...request, hint: await diskHintFor(request.diskCid, request.hint, this.rereadSettings) };
    // The hint may locate the disk by path, volume_id, id or lun (resolve-device.ts says which is used).
    if (!request?.diskCid || request.hint === null || typeof request.hint !== 'object') throw new InvalidInputError('mount_disk needs {diskCid, hint: {path, …}}.');
    const mount = { newDisk: request.newDisk === true, ...(options.signal ? { signal: options.signal } : {}) };
    await this.disks.mount(request.diskCid, request.hint, request.target ?? 'store', mount);
  }

  async unmountDisk(diskCid: string, options: LongActionOptions = {}): Promise<void> {
    const disk = this.disks.list().find((d) => d.diskCid === diskCid);
    if (disk?.target === 'store' && this.dockerd.isUp) {
      const using = await this.containers.storeInUse();
      if (using.length > 0) {
        throw new ConflictError(
          `Cannot unmount disk ${diskCid}: containers ${using.map((n) => `"${n}"`).join(', ')} are running off it (they hold the store ${this.settings.paths.store}); the disk stays mounted and attached. Stop the instance first.`,
          { details: { containers: using } },
        );
      }
    }
    await this.disks.unmount(diskCid, options.signal ? { signal: options.signal } : {});
  }

  listDisk(): Promise<string[]> {
    return Promise.resolve(this.disks.list().map((d) => d.diskCid));
  }

  fetchLogs(container: string, lines = 100): Promise<string> {
    return this.containers.fetchLogs(container, lines);
  }

  runCommand(command: string, timeoutMs = DEFAULT_COMMAND_TIMEOUT_MS): Promise<RunCommandResult> {
    if (typeof command !== 'string' || command === '') throw new InvalidInputError('run_command needs a non-empty `command`.');
    return runCommand(command, timeoutMs, { DOCKER_HOST: `unix://${this.dockerd.paths.socket}` });
  }

  updateDns(push: DnsPush): Promise<DnsPushResult> {
    return this.requireDns().update(push);
  }

  getDns(): Promise<{ version: number; set: DnsRecordSet }> {
    return Promise.resolve(this.requireDns().get());
  }

  // ---- internals -------------------------------------------------------------------------------

  private requireDns(): DnsService {
    if (!this.dns) throw new InvalidInputError('The agent is still starting; push the DNS records again in a moment.');
    return this.dns;
  }

  /** A container's state or health changed: withdraw it from this VM's answers and tell the director now. */
  private onContainersChanged(): void {
    this.dns?.setLocal(this.containers.localDnsView());
    this.heartbeats.soon();
  }

  private jobState(containers: AgentState['containers']): JobState {
    if (!this.containers.currentSpec) return 'unknown';
    if (this.containers.stopped) return 'stopped';
    if (this.dockerd.state === 'failed') return 'failing';
    if (containers.some((c) => c.flapping || c.state === 'failed' || c.state === 'unhealthy')) return 'failing';
    if (this.dockerd.state !== 'running') return 'starting';
    if (containers.some((c) => c.state !== 'running' && c.state !== 'exited')) return 'starting';
    return 'running';
  }

  private async heartbeat(): Promise<Heartbeat> {
    // No per-container stats here: they cost a second per container; vitals are enough.
    const state = await this.getState();
    const spec = this.containers.currentSpec;
    return {
      agentId: this.settings.agentId,
      vmCid: this.settings.vmCid,
      deployment: spec?.deployment ?? null,
      group: spec?.group ?? null,
      index: spec?.index ?? null,
      instanceId: spec?.instanceId ?? null,
      ip: this.settings.network.ip,
      jobState: state.jobState,
      containers: state.containers.map((c) => ({ name: c.name, state: c.state, restarts: c.restarts, flapping: c.flapping, uptimeSeconds: c.uptimeSeconds })),
      vitals: await this.vitals.read(),
      timestamp: new Date().toISOString(),
    };
  }

  private sendAlert(severity: AgentAlert['severity'], category: AgentAlert['category'], title: string, summary: string, container?: string): void {
    const alert: AgentAlert = { agentId: this.settings.agentId, severity, category, title, summary, timestamp: new Date().toISOString() };
    if (container) alert.container = container;
    this.log.warn('alert', { title, summary });
    this.director.alert(alert).catch((err: unknown) => this.log.warn('cannot send an alert to the director', { title, error: errorMessage(err) }));
  }

  private savePersisted(change: Partial<PersistedState>): Promise<void> {
    return this.persistMutex.run(async () => {
      this.persisted = { ...this.persisted, ...change };
      await this.stateFile.save(this.persisted);
    });
  }

  get logFile(): string {
    return join(this.settings.paths.ephemeral, 'agent.log');
  }
}
