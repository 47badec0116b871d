import { mkdir } from 'node:fs/promises';
import type Docker from 'dockerode';
import type { ContainerInspectInfo } from 'dockerode';
import { CONTAINER_LABELS, type ContainerSpec, type InstanceSpec } from '../../common/contracts/instance-spec.js';
import type { ContainerRunState, ContainerState } from '../../common/contracts/agent-protocol.js';
import type { Logger } from '../../common/logger.js';
import { ConflictError, InternalError, NotFoundError, errorMessage } from '../../common/errors.js';
import { Mutex } from '../../common/mutex.js';
import { DependencyGraph } from './dependency-graph.js';
import { DEFAULT_BACKOFF, backoffDelayMs, isFlapping, nextFailureCount, type BackoffPolicy } from './backoff.js';
import { transition, type SupervisorEvent, type SupervisorState } from './supervisor-state.js';
import { createOptions, mountSourcePath } from './create-options.js';
import { demultiplexLogs } from './docker-logs.js';
import type { ImageEnsurer } from '../images/image-ensurer.js';
import { DockerEventStream, type DockerEvent } from './docker-events.js';

const LOG_LINES_KEPT = 20;
const DEFAULT_STOP_TIMEOUT_S = 10;

interface Supervised {
  spec: ContainerSpec;
  state: SupervisorState;
  dockerId?: string;
  startedAtMs: number;
  restarts: number;
  consecutiveFailures: number;
  notBeforeMs: number;
  lastExitCode?: number;
  lastError?: string;
  lastLogLines?: string[];
  health: 'healthy' | 'unhealthy' | 'starting' | 'none';
  alerted: boolean;
}

export interface ContainerAlertSink {
  alert(category: 'container_flapping' | 'container_failing', container: string, title: string, summary: string): void;
}

/**
 * Keeps the containers of the applied spec running on the VM's dockerd: creates/replaces/removes
 * them on apply, and heals them from Docker's event stream (restart with backoff, dependency
 * cascade, health checks). Every change runs under one mutex, so a heal never races an apply.
 */
export class ContainerManager {
  private spec: InstanceSpec | null = null;
  private graph = new DependencyGraph([]);
  private stoppedOnPurpose = false;
  private readonly sups = new Map<string, Supervised>();
  private readonly mutex = new Mutex();
  private healQueued = false;
  private healTimer: NodeJS.Timeout | null = null;
  private readonly events: DockerEventStream;

  constructor(
    private readonly docker: () => Docker,
    private readonly images: ImageEnsurer,
    private readonly storeDir: string,
    private readonly log: Logger,
    private readonly alerts: ContainerAlertSink,
    private readonly isDockerUp: () => boolean,
    private readonly backoff: BackoffPolicy = DEFAULT_BACKOFF,
  ) {
    this.events = new DockerEventStream(docker, log, (e) => this.onEvent(e), () => this.requestHeal(), isDockerUp);
  }

  get currentSpec(): InstanceSpec | null {
    return this.spec;
  }

  get stopped(): boolean {
    return this.stoppedOnPurpose;
  }

  /** Sets the spec known at start-up (from the state file) without touching anything. */
  load(spec: InstanceSpec | null, stopped: boolean): void {
    this.stoppedOnPurpose = stopped;
    if (spec) this.adoptSpec(spec);
  }

  /** Listens to Docker events and heals: used at agent start and each time dockerd is (back) up. */
  onDockerUp(restarted: boolean): void {
    if (restarted) {
      // Every container died with dockerd; they are started again in dependency order. Not a crash
      // of theirs, so no restart is counted against their backoff.
      for (const s of this.sups.values()) if (s.state !== 'stopped' && s.state !== 'failed') this.move(s, 'reset');
    }
    this.events.connect();
    if (!restarted && this.spec) {
      // First contact after the agent (re)started: converge to the last applied spec (an apply
      // may have been cut short), touching only what differs.
      this.reconcile().catch((err: unknown) => {
        this.log.error('reconciling with the last applied spec failed; healing instead', { error: errorMessage(err) });
        this.requestHeal(1000);
      });
      return;
    }
    this.requestHeal();
  }

  /** The agent is about to restart dockerd: the coming deaths are not crashes. */
  expectAllDown(): void {
    for (const s of this.sups.values()) if (s.state !== 'stopped' && s.state !== 'failed') this.move(s, 'reset');
  }

  close(): void {
    this.events.close();
    if (this.healTimer) clearTimeout(this.healTimer);
  }

  /** apply: converge containers to the spec; starts them unless the instance is stopped. */
  async apply(spec: InstanceSpec): Promise<void> {
    const graph = new DependencyGraph(spec.containers);
    await this.mutex.run(async () => {
      this.adoptSpec(spec, graph);
      await this.converge();
      if (!this.stoppedOnPurpose) await this.healOnce();
      const failed = [...this.sups.values()].filter((s) => s.state === 'failed');
      if (failed.length > 0) {
        throw new ConflictError(failed.map((s) => s.lastError ?? `Container "${s.spec.name}" failed.`).join(' '));
      }
    });
  }

  /** Reconciles what dockerd has with the spec (agent restart, VM reboot): only differences change. */
  async reconcile(): Promise<void> {
    await this.mutex.run(async () => {
      if (!this.spec) return;
      await this.converge();
      if (!this.stoppedOnPurpose) await this.healOnce();
    });
  }

  async stopAll(): Promise<void> {
    await this.mutex.run(async () => {
      this.stoppedOnPurpose = true;
      for (const name of this.graph.stopOrder()) {
        const s = this.sups.get(name);
        if (s) await this.stopContainer(s, 'stopped');
      }
    });
  }

  async startAll(): Promise<void> {
    await this.mutex.run(async () => {
      this.stoppedOnPurpose = false;
      for (const s of this.sups.values()) {
        s.consecutiveFailures = 0;
        s.notBeforeMs = 0;
        s.alerted = false;
        if (s.state === 'stopped' || s.state === 'failed') this.move(s, 'wait');
      }
      await this.converge();
      await this.healOnce();
    });
  }

  /** True when some running container bind-mounts something from the store. */
  async storeInUse(): Promise<string[]> {
    const using: string[] = [];
    for (const s of this.sups.values()) {
      if (!s.spec.mounts.some((m) => m.source.kind === 'store')) continue;
      const info = await this.inspect(s.spec.name);
      if (info?.State.Running) using.push(s.spec.name);
    }
    return using;
  }

  async fetchLogs(name: string, lines: number): Promise<string> {
    if (!this.isDockerUp()) throw new ConflictError(`Cannot read the logs of "${name}": the VM's Docker daemon is not running.`);
    try {
      const buf = (await this.docker().getContainer(name).logs({ stdout: true, stderr: true, tail: lines, follow: false })) as unknown as Buffer;
      return demultiplexLogs(Buffer.isBuffer(buf) ? buf : Buffer.from(String(buf)));
    } catch (err) {
      if (statusOf(err) === 404) throw new NotFoundError(`There is no container "${name}" on this VM; \`bosun instances\` lists the containers.`);
      throw err;
    }
  }

  /** Per-container state for get_state/heartbeat; `stats` adds CPU and memory (slower). */
  async states(stats: boolean): Promise<ContainerState[]> {
    const now = Date.now();
    const result = await Promise.all(
      [...this.sups.values()].map(async (s) => {
        const running = s.state === 'running' || s.state === 'starting';
        const cs: ContainerState = {
          name: s.spec.name,
          state: this.runState(s),
          image: s.spec.image,
          uptimeSeconds: running && s.startedAtMs > 0 ? Math.round((now - s.startedAtMs) / 1000) : 0,
          restarts: s.restarts,
          flapping: isFlapping(s.consecutiveFailures) && !this.stoppedOnPurpose,
          health: s.health,
        };
        if (s.dockerId) cs.dockerId = s.dockerId;
        if (s.lastExitCode !== undefined) cs.lastExitCode = s.lastExitCode;
        if (s.lastError) cs.lastError = s.lastError;
        if (s.lastLogLines) cs.lastLogLines = s.lastLogLines;
        if (stats && running && this.isDockerUp()) Object.assign(cs, await this.stats(s.spec.name));
        return cs;
      }),
    );
    return result;
  }

  // ---- internals -------------------------------------------------------------------------------

  private adoptSpec(spec: InstanceSpec, graph = new DependencyGraph(spec.containers)): void {
    this.spec = spec;
    this.graph = graph;
    for (const name of [...this.sups.keys()]) if (!spec.containers.some((c) => c.name === name)) this.sups.delete(name);
    for (const c of spec.containers) {
      const s = this.sups.get(c.name);
      if (s) s.spec = c;
      else this.sups.set(c.name, { spec: c, state: 'pending', startedAtMs: 0, restarts: 0, consecutiveFailures: 0, notBeforeMs: 0, health: 'none', alerted: false });
    }
  }

  private move(s: Supervised, event: SupervisorEvent): void {
    const to = transition(s.state, event);
    if (to !== s.state) this.log.debug('container state', { container: s.spec.name, from: s.state, to, event });
    s.state = to;
  }

  private runState(s: Supervised): ContainerRunState {
    if (this.stoppedOnPurpose && s.state !== 'running' && s.state !== 'failed') return 'stopped';
    switch (s.state) {
      case 'running':
        return s.health === 'unhealthy' ? 'unhealthy' : 'running';
      case 'starting':
        return 'starting';
      case 'backoff':
        return 'restarting';
      case 'pending':
        return s.dockerId ? (s.restarts > 0 ? 'restarting' : 'starting') : 'missing';
      case 'stopping':
      case 'stopped':
        return 'stopped';
      case 'failed':
        return 'failed';
    }
  }

  /** Creates missing containers, replaces changed ones, removes ones no longer in the spec. */
  private async converge(): Promise<void> {
    const spec = this.spec;
    if (!spec) return;
    const docker = this.docker();
    const existing = await docker.listContainers({ all: true, filters: { label: [CONTAINER_LABELS.container] } });
    for (const c of existing) {
      const name = c.Labels[CONTAINER_LABELS.container] ?? '';
      if (!this.sups.has(name)) {
        this.log.info('removing a container that is no longer in the spec', { container: name });
        await docker.getContainer(c.Id).remove({ force: true }).catch((err: unknown) => this.log.warn('cannot remove container', { container: name, error: errorMessage(err) }));
      }
    }
    // Docker binds a link (and volumes_from, network_mode container:X) to the container, not to
    // its name: a container linked to one that is replaced cannot start ("Cannot link to a non
    // running container") until it is re-created too.
    const replaced = new Set<string>();
    for (const name of this.graph.startOrder()) {
      const s = this.sups.get(name);
      if (!s) continue;
      const info = await this.inspect(name);
      const linkedReplaced = containersReferencedBy(s.spec).filter((n) => replaced.has(n));
      if (info && info.Config.Labels?.[CONTAINER_LABELS.specHash] === s.spec.specHash && linkedReplaced.length === 0) {
        s.dockerId = info.Id;
        this.observe(s, info);
        continue;
      }
      if (info) {
        replaced.add(name);
        this.log.info(
          linkedReplaced.length > 0 ? 're-creating a container whose linked container was replaced' : 'replacing a container whose spec changed',
          { container: name, ...(linkedReplaced.length > 0 ? { linked: linkedReplaced } : {}) },
        );
        await this.stopDependents(name);
        this.move(s, 'stop');
        await docker.getContainer(info.Id).remove({ force: true });
        this.move(s, 'stopped');
        this.move(s, 'wait');
      }
      await this.create(s);
    }
  }

  private async create(s: Supervised): Promise<boolean> {
    const spec = this.spec;
    if (!spec) return false;
    try {
      await this.images.ensure(s.spec);
      for (const m of s.spec.mounts) await mkdir(mountSourcePath(this.storeDir, m.source), { recursive: true });
      const created = await this.docker().createContainer(createOptions(spec, s.spec, this.storeDir));
      s.dockerId = created.id;
      s.lastError = undefined;
      s.startedAtMs = 0;
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
  private observe(s: Supervised, info: ContainerInspectInfo): void {
    const health = info.State.Health?.Status as Supervised['health'] | undefined;
    s.health = health ?? 'none';
    if (info.State.Running) {
      s.startedAtMs = Date.parse(info.State.StartedAt) || Date.now();
      if (s.state !== 'running' && s.state !== 'starting') {
        if (s.state === 'stopped' || s.state === 'failed' || s.state === 'backoff') this.move(s, 'wait');
        if (s.state === 'pending') this.move(s, 'start');
      }
      if (s.health !== 'starting' && s.health !== 'unhealthy' && s.state === 'starting') this.move(s, 'started');
    }
  }

  requestHeal(delayMs = 0): void {
    if (delayMs > 0) {
      if (this.healTimer) clearTimeout(this.healTimer);
      this.healTimer = setTimeout(() => {
        this.healTimer = null;
        this.requestHeal();
      }, delayMs);
      return;
    }
    if (this.healQueued) return;
    this.healQueued = true;
    void this.mutex
      .run(async () => {
        this.healQueued = false;
        if (!this.spec || this.stoppedOnPurpose || !this.isDockerUp()) return;
        await this.healOnce();
      })
      .catch((err: unknown) => {
        this.log.error('healing failed; retrying in 1 s', { error: errorMessage(err) });
        this.requestHeal(1000);
      });
  }

  /**
   * One pass in start order: a container that should run and does not is started once its
   * dependencies run and its backoff delay passed. Call under the mutex.
   */
  private async healOnce(): Promise<void> {
    let nextWakeMs = Infinity;
    for (const name of this.graph.startOrder()) {
      const s = this.sups.get(name);
      if (!s) continue;
      let info = await this.inspect(name);
      if (!info) {
        if (!(await this.create(s))) continue;
        info = await this.inspect(name);
        if (!info) continue;
      }
      s.dockerId = info.Id;
      if (info.State.Running && s.state !== 'backoff') {
        this.observe(s, info);
        continue;
      }
      if (!info.State.Running && (s.state === 'running' || s.state === 'starting')) {
        // Its death was not seen (agent restarted, events missed): it is started again below.
        this.move(s, 'died');
      }
      if (info.State.Running) {
        // Unhealthy and due for a restart: stop it first (not a crash of its own).
        await this.stopContainer(s, 'pending');
        this.move(s, 'died');
      }
      const blocking = this.graph.dependenciesOf(name).filter((d) => this.sups.get(d)?.state !== 'running');
      if (blocking.length > 0) {
        if (s.state !== 'pending' && s.state !== 'backoff') this.move(s, 'wait');
        continue;
      }
      const wait = s.notBeforeMs - Date.now();
      if (wait > 0) {
        nextWakeMs = Math.min(nextWakeMs, wait);
        continue;
      }
      await this.startContainer(s);
    }
    if (nextWakeMs !== Infinity) this.requestHeal(nextWakeMs);
  }

  private async startContainer(s: Supervised): Promise<void> {
    this.move(s, 'start');
    // Taken before the call: a container that dies at once dies before the call returns, and
    // its die event must not look older than this start.
    s.startedAtMs = Date.now();
    try {
      await this.docker().getContainer(s.spec.name).start();
    } catch (err) {
      if (statusOf(err) !== 304) {
        this.markFailed(s, `Container "${s.spec.name}" (image "${s.spec.image}") could not be started: ${errorMessage(err)}`);
        return;
      }
    }
    const info = await this.inspect(s.spec.name);
    if (!info) return;
    if (!info.State.Running) {
      // Exited at once: its die event will count it and back off.
      return;
    }
    const health = info.State.Health?.Status as Supervised['health'] | undefined;
    s.health = health ?? 'none';
    if (s.health === 'none' || s.health === 'healthy') this.move(s, 'started');
    this.log.info('container started', { container: s.spec.name, restarts: s.restarts });
  }

  private markFailed(s: Supervised, message: string): void {
    const isNew = s.state !== 'failed' || s.lastError !== message;
    s.lastError = message;
    this.move(s, 'fail');
    this.log.error('container failed', { container: s.spec.name, error: message });
    if (isNew) this.alerts.alert('container_failing', s.spec.name, `Container "${s.spec.name}" cannot run`, message);
  }

  /** Stops a container on purpose (no crash is recorded); `then` is its state afterwards. */
  private async stopContainer(s: Supervised, then: 'stopped' | 'pending'): Promise<void> {
    if (s.state !== 'stopping') this.move(s, 'stop');
    const t = s.spec.create.StopTimeout ?? DEFAULT_STOP_TIMEOUT_S;
    try {
      await this.docker().getContainer(s.spec.name).stop({ t });
    } catch (err) {
      const status = statusOf(err);
      if (status !== 304 && status !== 404) this.log.warn('cannot stop container', { container: s.spec.name, error: errorMessage(err) });
    }
    this.move(s, 'stopped');
    if (then === 'pending') this.move(s, 'wait');
  }

  /** Stops everything that depends on `name`, transitively, dependents first. */
  private async stopDependents(name: string): Promise<void> {
    const dependents = this.graph.dependentsOf(name).reverse();
    for (const d of dependents) {
      const s = this.sups.get(d);
      if (!s) continue;
      const info = await this.inspect(d);
      if (info?.State.Running) {
        this.log.info('stopping a dependent until its dependency runs again', { container: d, dependency: name });
        await this.stopContainer(s, 'pending');
      } else if (s.state === 'running' || s.state === 'starting') {
        this.move(s, 'stop');
        this.move(s, 'stopped');
        this.move(s, 'wait');
      }
    }
  }

  private onEvent(e: DockerEvent): void {
    const s = this.sups.get(e.container);
    if (!s || this.stoppedOnPurpose) return;
    if (e.action === 'die') {
      // The agent's own stops (stop, replace, cascade) move the state first: not a crash.
      if (s.state !== 'running' && s.state !== 'starting') return;
      if (s.dockerId && e.id !== s.dockerId) return;
      if (e.timeMs < s.startedAtMs - 5) return; // a stale event from before the last start
      this.recordCrash(s, e.exitCode, `exited with code ${e.exitCode ?? 'unknown'}`);
      return;
    }
    if (e.action === 'unhealthy') {
      if (s.state !== 'running' && s.state !== 'starting') return;
      s.health = 'unhealthy';
      this.recordCrash(s, undefined, 'became unhealthy');
      return;
    }
    if (e.action === 'healthy') {
      s.health = 'healthy';
      if (s.state === 'starting') this.move(s, 'started');
      this.requestHeal();
      return;
    }
    if (e.action === 'destroy' && s.dockerId === e.id && (s.state === 'running' || s.state === 'starting')) {
      this.log.warn('a container of the spec was removed by someone; re-creating it', { container: s.spec.name });
      this.move(s, 'died');
      this.requestHeal();
    }
  }

  private recordCrash(s: Supervised, exitCode: number | undefined, why: string): void {
    const now = Date.now();
    const uptime = s.startedAtMs > 0 ? now - s.startedAtMs : 0;
    s.restarts += 1;
    s.consecutiveFailures = nextFailureCount(s.consecutiveFailures, uptime, this.backoff);
    const delay = backoffDelayMs(s.consecutiveFailures, this.backoff);
    s.notBeforeMs = now + delay;
    if (exitCode !== undefined) s.lastExitCode = exitCode;
    this.move(s, 'died');
    this.log.warn(`container ${why}; restarting it`, { container: s.spec.name, restarts: s.restarts, delayMs: delay, uptimeMs: uptime });
    void this.captureLogs(s);
    if (isFlapping(s.consecutiveFailures) && !s.alerted) {
      s.alerted = true;
      this.alerts.alert(
        'container_flapping',
        s.spec.name,
        `Container "${s.spec.name}" is flapping`,
        `Container "${s.spec.name}" ${why} ${s.consecutiveFailures} times in a row within ${this.backoff.resetAfterMs / 1000} s of starting; the agent keeps restarting it with backoff (next in ${delay / 1000} s). Last log lines: ${(s.lastLogLines ?? []).slice(-3).join(' | ')}`,
      );
    }
    if (!isFlapping(s.consecutiveFailures)) s.alerted = false;
    const name = s.spec.name;
    void this.mutex
      .run(async () => {
        if (this.stoppedOnPurpose) return;
        await this.stopDependents(name);
        await this.healOnce();
      })
      .catch((err: unknown) => {
        this.log.error('healing after a crash failed; retrying in 1 s', { container: name, error: errorMessage(err) });
        this.requestHeal(1000);
      });
  }

  private async captureLogs(s: Supervised): Promise<void> {
    try {
      const text = await this.fetchLogs(s.spec.name, LOG_LINES_KEPT);
      s.lastLogLines = text.split('\n').filter((l) => l !== '').slice(-LOG_LINES_KEPT);
    } catch {
      /* best effort */
    }
  }

  private async inspect(name: string): Promise<ContainerInspectInfo | null> {
    try {
      return await this.docker().getContainer(name).inspect();
    } catch (err) {
      if (statusOf(err) === 404) return null;
      throw new InternalError(`Cannot inspect container "${name}" on the VM's Docker daemon: ${errorMessage(err)}`, { cause: err });
    }
  }

  private async stats(name: string): Promise<{ cpuPercent?: number; memoryBytes?: number }> {
    try {
      const st = (await this.docker().getContainer(name).stats({ stream: false })) as unknown as {
        cpu_stats?: { cpu_usage?: { total_usage?: number }; system_cpu_usage?: number; online_cpus?: number };
        precpu_stats?: { cpu_usage?: { total_usage?: number }; system_cpu_usage?: number };
        memory_stats?: { usage?: number; stats?: { cache?: number; inactive_file?: number } };
      };
      const cpuDelta = (st.cpu_stats?.cpu_usage?.total_usage ?? 0) - (st.precpu_stats?.cpu_usage?.total_usage ?? 0);
      const sysDelta = (st.cpu_stats?.system_cpu_usage ?? 0) - (st.precpu_stats?.system_cpu_usage ?? 0);
      const cpus = st.cpu_stats?.online_cpus ?? 1;
      const mem = (st.memory_stats?.usage ?? 0) - (st.memory_stats?.stats?.inactive_file ?? st.memory_stats?.stats?.cache ?? 0);
      return { cpuPercent: sysDelta > 0 ? Math.round((cpuDelta / sysDelta) * cpus * 10000) / 100 : 0, memoryBytes: Math.max(0, mem) };
    } catch {
      return {};
    }
  }
}

function statusOf(err: unknown): number | undefined {
  const s = (err as { statusCode?: unknown } | null)?.statusCode;
  return typeof s === 'number' ? s : undefined;
}

/** Containers whose identity `spec` is bound to at creation: links, volumes_from, network_mode container:X. */
function containersReferencedBy(spec: ContainerSpec): string[] {
  const hc = spec.create.HostConfig as { Links?: string[]; VolumesFrom?: string[]; NetworkMode?: string };
  const names = [
    ...(hc.Links ?? []).map((l) => l.split(':')[0] ?? ''),
    ...(hc.VolumesFrom ?? []).map((v) => v.split(':')[0] ?? ''),
    ...(hc.NetworkMode?.startsWith('container:') ? [hc.NetworkMode.slice('container:'.length)] : []),
  ];
  return names.map((n) => n.replace(/^\//, '')).filter(Boolean);
}
