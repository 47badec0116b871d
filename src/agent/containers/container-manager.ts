import type { InstanceSpec } from '../../common/contracts/instance-spec.js';
import type { ContainerState } from '../../common/contracts/agent-protocol.js';
import type { Logger } from '../../common/logger.js';
import { ConflictError, errorMessage } from '../../common/errors.js';
import { Mutex } from '../../common/mutex.js';
import type { DockerEngine } from '../docker-engine/docker-engine.js';
import type { ImageEnsurer } from '../images/image-ensurer.js';
import { DependencyGraph } from './dependency-graph.js';
import { DEFAULT_BACKOFF, type BackoffPolicy } from './backoff.js';
import type { FailureRestartsFile } from './failure-restarts-file.js';
import { ContainerRuntime, type ContainerAlertSink } from './container-runtime.js';
import { convergeToSpec } from './converge.js';
import { Healer } from './healer.js';
import { ContainerQueries } from './container-queries.js';
import { DockerEventStream } from './docker-events.js';
import { killOrphanedContainerProcess } from './orphan-processes.js';
import { runStateOf } from './supervised.js';
import type { LocalInstanceView } from '../dns/dns-resolver.js';

export type { ContainerAlertSink } from './container-runtime.js';

export interface ContainerManagerOptions {
  backoff?: BackoffPolicy;
  /** Kills a container's main process by pid (default: SIGKILL after checking its cgroup). */
  killOrphan?: (pid: number, dockerId: string) => boolean;
  /** The VM's DNS server, set as the resolver of containers whose manifest sets no `dns` (null: Docker's default). */
  dnsServer?: () => string | null;
  /** Called (synchronously) whenever a container's state or health changes, or the instance is stopped or started. */
  onChange?: () => void;
  /** Where the `on-failure:N` restart counts survive an agent restart (none: they start at 0). */
  failureRestarts?: FailureRestartsFile;
}

/**
 * Keeps the containers of the applied spec running on the VM's dockerd: the operator's actions
 * (apply, stop, start) converge it to the spec (converge.ts), the healer restarts what dies
 * (healer.ts), queries report (container-queries.ts). Every change runs under one mutex, so a
 * heal never races an apply.
 */
export class ContainerManager {
  private readonly rt: ContainerRuntime;
  private readonly mutex = new Mutex();
  private readonly healer: Healer;
  private readonly queries: ContainerQueries;
  private readonly events: DockerEventStream;
  private readonly killOrphan: (pid: number, dockerId: string) => boolean;

  constructor(
    engine: () => DockerEngine,
    images: ImageEnsurer,
    storeDir: string,
    private readonly log: Logger,
    alerts: ContainerAlertSink,
    isDockerUp: () => boolean,
    options: ContainerManagerOptions = {},
  ) {
    this.killOrphan = options.killOrphan ?? killOrphanedContainerProcess;
    this.rt = new ContainerRuntime(engine, images, storeDir, log, alerts, isDockerUp);
    if (options.dnsServer) this.rt.dnsServer = options.dnsServer;
    if (options.onChange) this.rt.onChange = options.onChange;
    const backoff = options.backoff ?? DEFAULT_BACKOFF;
    this.rt.retryBackoff = { initialMs: backoff.initialDelayMs ?? 1000, maxMs: backoff.maxDelayMs };
    if (options.failureRestarts) this.rt.failureRestartsFile = options.failureRestarts;
    this.healer = new Healer(this.rt, this.mutex, alerts, backoff);
    this.queries = new ContainerQueries(this.rt);
    this.events = new DockerEventStream(engine, log, (e) => this.healer.onEvent(e), () => this.healer.requestHeal(), isDockerUp);
  }

  get currentSpec(): InstanceSpec | null {
    return this.rt.spec;
  }

  get stopped(): boolean {
    return this.rt.stoppedOnPurpose;
  }

  /**
   * This instance's containers as DNS should answer them right now: up when running (and healthy,
   * with a health check); every container down while the instance is stopped. Null before a spec.
   */
  localDnsView(): LocalInstanceView | null {
    const spec = this.rt.spec;
    if (!spec) return null;
    const containers = new Map<string, boolean>();
    for (const s of this.rt.sups.values()) containers.set(s.spec.name, runStateOf(s, this.rt.stoppedOnPurpose) === 'running');
    return { deployment: spec.deployment, group: spec.group, index: spec.index, running: !this.rt.stoppedOnPurpose, containers };
  }

  /** Sets the spec known at start-up (from the state file) without touching anything. */
  load(spec: InstanceSpec | null, stopped: boolean): void {
    this.rt.stoppedOnPurpose = stopped;
    if (spec) this.rt.adoptSpec(spec, undefined, true);
    const counts = this.rt.failureRestartsFile?.load() ?? {};
    for (const s of this.rt.sups.values()) s.failureRestarts = counts[s.spec.name] ?? 0;
    this.rt.onChange();
  }

  /** Listens to Docker events and heals: used at agent start and each time dockerd is (back) up. */
  onDockerUp(restarted: boolean, onPurpose = false): void {
    if (restarted && !onPurpose) {
      // Dying with dockerd is an exit like any other for a container that is never restarted.
      for (const s of this.rt.sups.values()) {
        if ((s.spec.restartPolicy ?? 'always') === 'no' && (s.state === 'running' || s.state === 'starting')) this.rt.move(s, 'completed');
      }
    }
    if (restarted) {
      // Every container died with dockerd; they are started again in dependency order. Not a crash
      // of theirs, so no restart is counted against their backoff.
      this.expectAllDown();
    }
    this.events.connect();
    if (!restarted && this.rt.spec) {
      // First contact after the agent (re)started: converge to the last applied spec (an apply
      // may have been cut short), touching only what differs.
      this.reconcile().catch((err: unknown) => {
        this.log.error('reconciling with the last applied spec failed; healing instead', { error: errorMessage(err) });
        this.healer.requestHeal(1000);
      });
      return;
    }
    this.healer.requestHeal();
  }

  /**
   * dockerd died. Without live-restore its containers are restarted anyway; the ones that outlived
   * it are killed now so that the next dockerd does not first stop each of them with its stop
   * timeout (orphan-processes.ts says why).
   */
  onDockerDown(): void {
    if (!this.rt.spec || this.rt.spec.docker.liveRestore) return;
    const killed: string[] = [];
    for (const s of this.rt.sups.values()) {
      if (s.pid > 0 && s.dockerId && this.killOrphan(s.pid, s.dockerId)) killed.push(s.spec.name);
      s.pid = 0;
    }
    if (killed.length > 0) this.log.info('killed the containers that outlived dockerd, so that it restarts at once', { containers: killed });
  }

  /** The agent is about to restart dockerd (or it died): the coming deaths are not crashes. */
  expectAllDown(): void {
    for (const s of this.rt.sups.values()) if (s.state !== 'stopped' && s.state !== 'failed' && s.state !== 'exited') this.rt.move(s, 'reset');
  }

  close(): void {
    this.events.close();
    this.healer.close();
  }

  /** apply: converge containers to the spec; starts them unless the instance is stopped. */
  async apply(spec: InstanceSpec): Promise<void> {
    const graph = new DependencyGraph(spec.containers);
    await this.mutex.run(async () => {
      this.rt.adoptSpec(spec, graph);
      this.rt.onChange();
      // An apply tries a failed container again at once, whatever its retry timer says.
      for (const s of this.rt.sups.values()) if (s.state === 'failed') s.retryAtMs = 1;
      await convergeToSpec(this.rt);
      if (!this.rt.stoppedOnPurpose) await this.healer.healOnce();
      const failed = [...this.rt.sups.values()].filter((s) => s.state === 'failed');
      if (failed.length > 0) {
        throw new ConflictError(failed.map((s) => s.lastError ?? `Container "${s.spec.name}" failed.`).join(' '));
      }
    });
  }

  /** Reconciles what dockerd has with the spec (agent restart, VM reboot): only differences change. */
  async reconcile(): Promise<void> {
    await this.mutex.run(async () => {
      if (!this.rt.spec) return;
      await convergeToSpec(this.rt);
      if (!this.rt.stoppedOnPurpose) await this.healer.healOnce();
    });
  }

  async stopAll(): Promise<void> {
    await this.mutex.run(async () => {
      this.rt.stoppedOnPurpose = true;
      this.rt.onChange();
      for (const s of [...this.rt.inStartOrder()].reverse()) await this.rt.stop(s, 'stopped');
    });
  }

  async startAll(): Promise<void> {
    await this.mutex.run(async () => {
      this.rt.stoppedOnPurpose = false;
      this.rt.onChange();
      for (const s of this.rt.sups.values()) {
        s.consecutiveFailures = 0;
        s.notBeforeMs = 0;
        s.alerted = false;
        s.failureRestarts = 0;
        s.failedAttempts = 0;
        s.retryAtMs = 1;
        if (s.state === 'stopped' || s.state === 'failed' || s.state === 'exited') this.rt.move(s, 'wait');
      }
      this.rt.saveFailureRestarts();
      await convergeToSpec(this.rt);
      await this.healer.healOnce();
    });
  }

  storeInUse(): Promise<string[]> {
    return this.queries.storeInUse();
  }

  fetchLogs(name: string, lines: number): Promise<string> {
    return this.queries.fetchLogs(name, lines);
  }

  states(stats: boolean): Promise<ContainerState[]> {
    return this.queries.states(stats);
  }
}
