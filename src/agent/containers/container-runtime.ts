import { mkdir } from 'node:fs/promises';
import type { InstanceSpec } from '../../common/contracts/instance-spec.js';
import type { Logger } from '../../common/logger.js';
import { InternalError, errorMessage } from '../../common/errors.js';
import type { DockerEngine, EngineContainer } from '../docker-engine/docker-engine.js';
import type { ImageEnsurer } from '../images/image-ensurer.js';
import { DependencyGraph } from './dependency-graph.js';
import { createOptions, mountSourcePath } from './create-options.js';
import { newSupervised, type Supervised } from './supervised.js';
import type { FailureRestartsFile } from './failure-restarts-file.js';
import { transition, type SupervisorEvent } from './supervisor-state.js';
import { retriesFailedStarts } from './restart-policy.js';
import { backoffDelayMs, type BackoffPolicy } from '../../common/waiting.js';

const DEFAULT_STOP_TIMEOUT_S = 10;

export interface ContainerAlertSink {
  alert(category: 'container_flapping' | 'container_failing', container: string, title: string, summary: string): void;
}

/**
 * The containers of the applied spec and the single-container actions every part of the
 * container supervision shares (inspect, create, start, stop, fail). Holds no policy: converging
 * and healing decide when to call these.
 */
export class ContainerRuntime {
  spec: InstanceSpec | null = null;
  graph = new DependencyGraph([]);
  stoppedOnPurpose = false;
  readonly sups = new Map<string, Supervised>();
  /** Backoff of the timer that retries a container that cannot be created or started. */
  retryBackoff: BackoffPolicy = { initialMs: 1000, maxMs: 30_000 };
  /** The VM's DNS server for containers' resolvers (null: Docker's default). */
  dnsServer: () => string | null = () => null;
  /** Called when a container's state or health changes (DNS withdrawal, an early heartbeat). */
  onChange: () => void = () => undefined;
  /** Where `on-failure:N` restart counts outlive the agent (null: they do not). */
  failureRestartsFile: FailureRestartsFile | null = null;

  constructor(
    readonly engine: () => DockerEngine,
    private readonly images: ImageEnsurer,
    readonly storeDir: string,
    readonly log: Logger,
    private readonly alerts: ContainerAlertSink,
    readonly isDockerUp: () => boolean,
  ) {}

  /** Writes the containers' `on-failure` restart counts; a failed write is logged, never fatal. */
  saveFailureRestarts(): void {
    if (this.failureRestartsFile === null) return;
    const counts = Object.fromEntries([...this.sups.values()].filter((s) => s.failureRestarts > 0).map((s) => [s.spec.name, s.failureRestarts]));
    try {
      this.failureRestartsFile.save(counts);
    } catch (err) {
      this.log.warn('could not save the on-failure restart counts', { path: this.failureRestartsFile.path, error: errorMessage(err) });
    }
  }

  /** `adopted`: the spec comes from the state file at agent start (see Supervised.adopted). */
  adoptSpec(spec: InstanceSpec, graph = new DependencyGraph(spec.containers), adopted = false): void {
    this.spec = spec;
    this.graph = graph;
    for (const name of [...this.sups.keys()]) if (!spec.containers.some((c) => c.name === name)) this.sups.delete(name);
    for (const c of spec.containers) {
      const s = this.sups.get(c.name);
      if (s) s.spec = c;
      else this.sups.set(c.name, { ...newSupervised(c), adopted });
    }
  }

  /** The supervised containers in dependency (start) order. */
  inStartOrder(): Supervised[] {
    return this.graph.startOrder().flatMap((n) => this.sups.get(n) ?? []);
  }

  move(s: Supervised, event: SupervisorEvent): void {
    const to = transition(s.state, event);
    if (to === s.state) return;
    this.log.debug('container state', { container: s.spec.name, from: s.state, to, event });
    s.state = to;
    this.onChange();
  }

  setHealth(s: Supervised, health: Supervised['health']): void {
    if (s.health === health) return;
    s.health = health;
    this.onChange();
  }

  async inspect(name: string): Promise<EngineContainer | null> {
    try {
      return await this.engine().inspectContainer(name);
    } catch (err) {
      throw new InternalError(`Cannot inspect container "${name}" on the VM's Docker daemon: ${errorMessage(err)}`, { cause: err });
    }
  }

  async create(s: Supervised): Promise<boolean> {
    const spec = this.spec;
    if (!spec) return false;
    try {
      await this.images.ensure(s.spec);
      for (const m of s.spec.mounts) await mkdir(mountSourcePath(this.storeDir, m.source), { recursive: true });
      s.dockerId = await this.engine().createContainer(createOptions(spec, s.spec, this.storeDir, this.dnsServer()));
      s.lastError = undefined;
      s.startedAtMs = 0;
      s.failureRestarts = 0;
      this.move(s, 'reset');
      return true;
    } catch (err) {
      this.markFailed(
        s,
        errorMessage(err).includes(`"${s.spec.name}"`)
          ? errorMessage(err)
          : `Container "${s.spec.name}" (image "${s.spec.image}") could not be created: ${errorMessage(err)}`,
      );
      return false;
    }
  }

  /** Records what dockerd says about a container that the agent did not just change. */
  observe(s: Supervised, info: EngineContainer): void {
    this.setHealth(s, info.health ?? 'none');
    s.pid = info.pid;
    if (info.running) {
      s.startedAtMs = info.startedAtMs || Date.now();
      if (s.state !== 'running' && s.state !== 'starting') {
        if (s.state === 'stopped' || s.state === 'failed' || s.state === 'backoff' || s.state === 'exited') this.move(s, 'wait');
        if (s.state === 'pending') this.move(s, 'start');
      }
      if (s.health !== 'starting' && s.health !== 'unhealthy' && s.state === 'starting') this.move(s, 'started');
    }
  }

  async start(s: Supervised): Promise<void> {
    this.move(s, 'start');
    // Taken before the call: a container that dies at once dies before the call returns, and
    // its die event must not look older than this start.
    s.startedAtMs = Date.now();
    try {
      await this.engine().startContainer(s.spec.name);
    } catch (err) {
      this.markFailed(s, `Container "${s.spec.name}" (image "${s.spec.image}") could not be started: ${errorMessage(err)}`);
      return;
    }
    const info = await this.inspect(s.spec.name);
    if (!info) return;
    if (!info.running) {
      // Exited at once: its die event will count it and back off.
      return;
    }
    s.pid = info.pid;
    s.failedAttempts = 0;
    s.retryAtMs = 0;
    this.setHealth(s, info.health ?? 'none');
    if (s.health === 'none' || s.health === 'healthy') this.move(s, 'started');
    this.log.info('container started', { container: s.spec.name, restarts: s.restarts });
  }

  /**
   * The container cannot run. Where its restart policy allows (`retry`), a timer tries again with
   * backoff (the heal pass reads `retryAtMs`); otherwise only an apply or a start does.
   */
  markFailed(s: Supervised, message: string, retry = retriesFailedStarts(s.spec)): void {
    const isNew = s.state !== 'failed' || s.lastError !== message;
    s.lastError = message;
    this.move(s, 'fail');
    s.failedAttempts += 1;
    const delayMs = retry ? backoffDelayMs(s.failedAttempts, this.retryBackoff) : 0;
    s.retryAtMs = retry ? Date.now() + delayMs : 0;
    this.log.error('container failed', { container: s.spec.name, error: message, ...(retry ? { retryInMs: delayMs } : {}) });
    if (isNew) this.alerts.alert('container_failing', s.spec.name, `Container "${s.spec.name}" cannot run`, message);
  }

  /** Stops a container on purpose (no crash is recorded); `then` is its state afterwards. */
  async stop(s: Supervised, then: 'stopped' | 'pending'): Promise<void> {
    if (s.state !== 'stopping') this.move(s, 'stop');
    await this.stopCall(s);
    this.move(s, 'stopped');
    if (then === 'pending') this.move(s, 'wait');
  }

  /**
   * Stops a container without anyone waiting for it: its own stop signal and timeout run while
   * the rest of the supervision goes on (a dependent that ignores SIGTERM must not hold up the
   * restart of its dependency). It is `stopping` meanwhile, so no heal starts it and its `die` is
   * not a crash; afterwards it waits (`pending`) and `done` asks for a heal.
   */
  stopInBackground(s: Supervised, why: string, done: () => void): void {
    if (s.state === 'stopping') return;
    this.move(s, 'stop');
    this.log.info(why, { container: s.spec.name });
    void this.stopCall(s).then(() => {
      // An operator stop or a replacement that took over meanwhile has set the state itself.
      if (s.state !== 'stopping') return;
      this.move(s, 'stopped');
      if (!this.stoppedOnPurpose) this.move(s, 'wait');
      done();
    });
  }

  async stopCall(s: Supervised): Promise<void> {
    const t = s.spec.create.StopTimeout ?? DEFAULT_STOP_TIMEOUT_S;
    try {
      await this.engine().stopContainer(s.spec.name, t);
    } catch (err) {
      this.log.warn('cannot stop container', { container: s.spec.name, error: errorMessage(err) });
    }
  }

  /** Stops everything that depends on `name`, transitively, dependents first. */
  async stopDependents(name: string): Promise<void> {
    const dependents = this.graph.dependentsOf(name).reverse();
    for (const d of dependents) {
      const s = this.sups.get(d);
      if (!s) continue;
      const info = await this.inspect(d);
      if (info?.running) {
        this.log.info('stopping a dependent until its dependency runs again', { container: d, dependency: name });
        await this.stop(s, 'pending');
      } else if (s.state === 'running' || s.state === 'starting') {
        this.move(s, 'stop');
        this.move(s, 'stopped');
        this.move(s, 'wait');
      }
    }
  }
}
