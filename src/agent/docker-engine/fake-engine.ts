import { sleep } from '../../common/waiting.js';
import {
  EngineError,
  type ContainerStats,
  type DockerEngine,
  type EngineContainer,
  type EngineContainerSummary,
  type EngineCreateBody,
  type EngineEvent,
  type EngineEventHandlers,
  type EngineSubscription,
} from './docker-engine.js';

/** How a fake container behaves; set per container name with `behave`. */
export interface FakeBehaviour {
  /** ms its stop takes (a process that ignores SIGTERM takes the whole stop timeout: use Infinity). */
  stopTakesMs?: number;
  /** Exits with this code right after each start (a crashing or one-shot container). */
  exitOnStart?: number;
  /** With a health check: reports healthy this many ms after each start (default: stays "starting"). */
  healthyAfterMs?: number;
}

interface FakeContainer {
  id: string;
  body: EngineCreateBody;
  running: boolean;
  pid: number;
  startedAtMs: number;
  exitCode: number;
  health?: 'healthy' | 'unhealthy' | 'starting';
}

export interface FakeCall {
  op: keyof DockerEngine;
  target: string;
  atMs: number;
}

type Failure = { op: keyof DockerEngine; target?: string; error: Error; times: number };

/**
 * An in-memory Docker engine: containers start, stop and die at once (or as `behave` says), events
 * go to subscribers like dockerd's stream, `crash`/`setHealth`/`removeByHand` play what happens on a
 * VM, `down`/`up` play a dockerd death, and `failNext` makes calls fail on demand. Every call is
 * recorded in `calls`, so tests can check the order of starts and stops.
 */
export class FakeDockerEngine implements DockerEngine {
  readonly calls: FakeCall[] = [];
  readonly images = new Set<string>();
  private readonly containers = new Map<string, FakeContainer>();
  private readonly behaviours = new Map<string, FakeBehaviour>();
  private readonly subscribers = new Set<EngineEventHandlers>();
  private failures: Failure[] = [];
  private nextId = 1;
  private nextPid = 1000;
  private isDown = false;

  behave(name: string, b: FakeBehaviour): void {
    this.behaviours.set(name, { ...this.behaviours.get(name), ...b });
  }

  /** The next `times` calls of `op` (on `target`, when given) fail with `error`. */
  failNext(op: keyof DockerEngine, error: Error = new EngineError('injected failure', 500), options: { target?: string; times?: number } = {}): void {
    const f: Failure = { op, error, times: options.times ?? 1 };
    if (options.target !== undefined) f.target = options.target;
    this.failures.push(f);
  }

  /** The container's main process dies with `exitCode`, as a crash or OOM kill would. */
  crash(name: string, exitCode = 137): void {
    const c = this.find(name);
    if (!c?.running) throw new Error(`fake engine: "${name}" is not running`);
    this.exit(c, exitCode);
  }

  setHealth(name: string, health: 'healthy' | 'unhealthy'): void {
    const c = this.find(name);
    if (!c?.running) throw new Error(`fake engine: "${name}" is not running`);
    c.health = health;
    this.emit(c, health);
  }

  /** `docker rm -f` by someone on the VM. */
  removeByHand(name: string): void {
    const c = this.find(name);
    if (!c) return;
    if (c.running) this.exit(c, 137);
    this.containers.delete(c.id);
    this.emit(c, 'destroy');
  }

  /** dockerd dies: every container dies with it (no events), streams end, calls fail until `up`. */
  down(): void {
    this.isDown = true;
    for (const c of this.containers.values()) {
      if (c.running) Object.assign(c, { running: false, pid: 0, exitCode: 137 });
    }
    const subs = [...this.subscribers];
    this.subscribers.clear();
    for (const s of subs) s.onEnd();
  }

  up(): void {
    this.isDown = false;
  }

  container(name: string): EngineContainer | null {
    const c = this.find(name);
    return c ? this.view(c) : null;
  }

  /** Calls of `op` in order, as container names. */
  callsOf(op: keyof DockerEngine): string[] {
    return this.calls.filter((c) => c.op === op).map((c) => c.target);
  }

  // ---- DockerEngine ----------------------------------------------------------------------------

  ping(): Promise<void> {
    return this.call('ping', '', () => undefined);
  }

  listContainers(label: string): Promise<EngineContainerSummary[]> {
    return this.call('listContainers', label, () =>
      [...this.containers.values()].filter((c) => label in c.body.Labels).map((c) => ({ id: c.id, labels: { ...c.body.Labels } })),
    );
  }

  inspectContainer(nameOrId: string): Promise<EngineContainer | null> {
    return this.call('inspectContainer', nameOrId, () => {
      const c = this.find(nameOrId);
      return c ? this.view(c) : null;
    });
  }

  createContainer(body: EngineCreateBody): Promise<string> {
    return this.call('createContainer', body.name, () => {
      if (this.find(body.name)) throw new EngineError(`Conflict. The container name "/${body.name}" is already in use`, 409);
      if (!this.images.has(body.Image)) throw new EngineError(`No such image: ${body.Image}`, 404);
      const id = `fake${String(this.nextId++).padStart(8, '0')}`;
      this.containers.set(id, { id, body: structuredClone(body), running: false, pid: 0, startedAtMs: 0, exitCode: 0 });
      return id;
    });
  }

  startContainer(nameOrId: string): Promise<void> {
    return this.call('startContainer', this.nameOf(nameOrId), () => {
      const c = this.mustFind(nameOrId);
      if (c.running) return;
      c.running = true;
      c.pid = this.nextPid++;
      c.startedAtMs = Date.now();
      if (c.body.Healthcheck) c.health = 'starting';
      this.emit(c, 'start');
      const b = this.behaviours.get(c.body.name) ?? {};
      const pid = c.pid;
      if (b.exitOnStart !== undefined) {
        const code = b.exitOnStart;
        setImmediate(() => {
          if (c.running && c.pid === pid) this.exit(c, code);
        });
      } else if (c.body.Healthcheck && b.healthyAfterMs !== undefined) {
        setTimeout(() => {
          if (c.running && c.pid === pid && c.health === 'starting') this.setHealth(c.body.name, 'healthy');
        }, b.healthyAfterMs).unref();
      }
    });
  }

  async stopContainer(nameOrId: string, timeoutS: number): Promise<void> {
    await this.call('stopContainer', this.nameOf(nameOrId), () => undefined);
    const c = this.find(nameOrId);
    if (!c?.running) return;
    const takes = this.behaviours.get(c.body.name)?.stopTakesMs ?? 0;
    const pid = c.pid;
    if (takes > 0) await sleep(Math.min(takes, timeoutS * 1000));
    if (c.running && c.pid === pid) this.exit(c, takes >= timeoutS * 1000 ? 137 : 143);
  }

  removeContainer(nameOrId: string): Promise<void> {
    return this.call('removeContainer', this.nameOf(nameOrId), () => {
      const c = this.find(nameOrId);
      if (!c) return;
      if (c.running) this.exit(c, 137);
      this.containers.delete(c.id);
      this.emit(c, 'destroy');
    });
  }

  containerLogs(nameOrId: string, lines: number): Promise<string> {
    return this.call('containerLogs', nameOrId, () => {
      this.mustFind(nameOrId);
      return lines > 0 ? 'fake log line\n' : '';
    });
  }

  containerStats(nameOrId: string): Promise<ContainerStats> {
    return this.call('containerStats', nameOrId, () => ({ cpuPercent: 0, memoryBytes: 1024 }));
  }

  imageExists(ref: string): Promise<boolean> {
    return this.call('imageExists', ref, () => this.images.has(ref));
  }

  pullImage(ref: string): Promise<void> {
    return this.call('pullImage', ref, () => {
      this.images.add(ref);
    });
  }

  buildImage(tag: string): Promise<void> {
    return this.call('buildImage', tag, () => {
      this.images.add(tag);
    });
  }

  subscribeEvents(_label: string, handlers: EngineEventHandlers): Promise<EngineSubscription> {
    return this.call('subscribeEvents', '', () => {
      this.subscribers.add(handlers);
      return { close: () => this.subscribers.delete(handlers) };
    });
  }

  // ---- internals -------------------------------------------------------------------------------

  private async call<T>(op: keyof DockerEngine, target: string, fn: () => T): Promise<T> {
    await Promise.resolve(); // calls are asynchronous, as over the socket
    this.calls.push({ op, target, atMs: Date.now() });
    if (this.isDown) throw new EngineError('connect ENOENT /run/docker.sock (fake dockerd is down)');
    const i = this.failures.findIndex((f) => f.op === op && (f.target === undefined || f.target === target));
    const failure = i >= 0 ? this.failures[i] : undefined;
    if (failure) {
      failure.times -= 1;
      if (failure.times <= 0) this.failures.splice(i, 1);
      throw failure.error;
    }
    return fn();
  }

  private exit(c: FakeContainer, exitCode: number): void {
    c.running = false;
    c.pid = 0;
    c.exitCode = exitCode;
    delete c.health;
    this.emit(c, 'die', exitCode);
  }

  private emit(c: FakeContainer, action: EngineEvent['action'], exitCode?: number): void {
    const e: EngineEvent = { action, id: c.id, labels: { ...c.body.Labels }, timeMs: Date.now() };
    if (exitCode !== undefined) e.exitCode = exitCode;
    // Delivered before the call that caused it returns to its caller (dockerd sends an event as
    // the change happens, usually before the API response is read).
    queueMicrotask(() => {
      for (const s of this.subscribers) s.onEvent(e);
    });
  }

  private view(c: FakeContainer): EngineContainer {
    const v: EngineContainer = { id: c.id, name: c.body.name, labels: { ...c.body.Labels }, running: c.running, pid: c.pid, startedAtMs: c.startedAtMs, exitCode: c.exitCode };
    if (c.health) v.health = c.health;
    return v;
  }

  private find(nameOrId: string): FakeContainer | undefined {
    return this.containers.get(nameOrId) ?? [...this.containers.values()].find((c) => c.body.name === nameOrId);
  }

  private nameOf(nameOrId: string): string {
    return this.find(nameOrId)?.body.name ?? nameOrId;
  }

  private mustFind(nameOrId: string): FakeContainer {
    const c = this.find(nameOrId);
    if (!c) throw new EngineError(`No such container: ${nameOrId}`, 404);
    return c;
  }
}
