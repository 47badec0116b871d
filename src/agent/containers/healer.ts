import { errorMessage } from '../../common/errors.js';
import type { Mutex } from '../../common/mutex.js';
import { DEFAULT_BACKOFF, backoffDelayMs, isFlapping, nextFailureCount, type BackoffPolicy } from './backoff.js';
import type { ContainerAlertSink, ContainerRuntime } from './container-runtime.js';
import type { DockerEvent } from './docker-events.js';
import type { Supervised } from './supervised.js';
import { decideRestart, restartsAfter } from './restart-policy.js';

const LOG_LINES_KEPT = 20;

/**
 * Supervision: reacts to Docker's events (a death, a health change, a removal) and runs heal
 * passes that start, in dependency order, every container that should run and does not.
 */
export class Healer {
  private healQueued = false;
  private healTimer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(
    private readonly rt: ContainerRuntime,
    private readonly mutex: Mutex,
    private readonly alerts: ContainerAlertSink,
    private readonly backoff: BackoffPolicy = DEFAULT_BACKOFF,
  ) {}

  close(): void {
    this.closed = true;
    if (this.healTimer) clearTimeout(this.healTimer);
    this.healTimer = null;
  }

  requestHeal(delayMs = 0): void {
    if (this.closed) return;
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
        if (this.closed || !this.rt.spec || this.rt.stoppedOnPurpose || !this.rt.isDockerUp()) return;
        await this.healOnce();
      })
      .catch((err: unknown) => {
        this.rt.log.error('healing failed; retrying in 1 s', { error: errorMessage(err) });
        this.requestHeal(1000);
      });
  }

  /**
   * One pass in start order: a container that should run and does not is started once its
   * dependencies run and its backoff delay passed. Call under the mutex.
   */
  async healOnce(): Promise<void> {
    const rt = this.rt;
    let nextWakeMs = Infinity;
    for (const s of rt.inStartOrder()) {
      const name = s.spec.name;
      // Being stopped in the background: once stopped, it asks for another pass.
      if (s.state === 'stopping') continue;
      if (s.state === 'failed') {
        // Retried on its timer (with backoff) where its restart policy allows, else on apply/start.
        if (s.retryAtMs === 0) continue;
        const wait = s.retryAtMs - Date.now();
        if (wait > 0) {
          nextWakeMs = Math.min(nextWakeMs, wait);
          continue;
        }
      }
      let info = await rt.inspect(name);
      if (s.state === 'exited') {
        // Left down by its restart policy; someone may have started it by hand.
        if (info?.running) rt.observe(s, info);
        continue;
      }
      if (!info) {
        if (!(await rt.create(s))) continue;
        info = await rt.inspect(name);
        if (!info) continue;
      }
      s.dockerId = info.id;
      const adopted = s.adopted;
      s.adopted = false;
      if (info.running && s.state !== 'backoff') {
        rt.observe(s, info);
        continue;
      }
      const deathNotSeen = !info.running && (s.state === 'running' || s.state === 'starting');
      if ((deathNotSeen || (adopted && s.state === 'pending' && info.startedAtMs > 0)) && !restartsAfter(s.spec, info.exitCode)) {
        // It exited while nobody watched (agent restarted, events missed) and its restart policy leaves it down.
        s.lastExitCode = info.exitCode;
        rt.move(s, 'completed');
        continue;
      }
      if (deathNotSeen) {
        // Its death was not seen (agent restarted, events missed): it is started again below.
        rt.move(s, 'died');
      }
      if (info.running) {
        // Unhealthy and due for a restart: stop it first (not a crash of its own), without
        // holding up the rest of this pass.
        rt.stopInBackground(s, 'stopping an unhealthy container to restart it', () => this.requestHeal());
        continue;
      }
      const blocking = rt.graph.dependenciesOf(name).filter((d) => !isSatisfied(rt.sups.get(d)));
      if (blocking.length > 0) {
        if (s.state !== 'pending' && s.state !== 'backoff') rt.move(s, 'wait');
        continue;
      }
      const wait = s.notBeforeMs - Date.now();
      if (wait > 0) {
        nextWakeMs = Math.min(nextWakeMs, wait);
        continue;
      }
      await rt.start(s);
    }
    // Failures of this very pass set their retry time too.
    for (const s of rt.sups.values()) if (s.state === 'failed' && s.retryAtMs > 0) nextWakeMs = Math.min(nextWakeMs, Math.max(1, s.retryAtMs - Date.now()));
    if (nextWakeMs !== Infinity) this.requestHeal(nextWakeMs);
  }

  onEvent(e: DockerEvent): void {
    const rt = this.rt;
    const s = rt.sups.get(e.container);
    if (!s || rt.stoppedOnPurpose) return;
    if (e.action === 'die') {
      // The agent's own stops (stop, replace, cascade) move the state first: not a crash.
      if (s.state !== 'running' && s.state !== 'starting') return;
      if (s.dockerId && e.id !== s.dockerId) return;
      if (e.timeMs < s.startedAtMs - 5) return; // a stale event from before the last start
      this.onExit(s, { exitCode: e.exitCode }, `exited with code ${e.exitCode ?? 'unknown'}`);
      return;
    }
    if (e.action === 'unhealthy') {
      if (s.state !== 'running' && s.state !== 'starting') return;
      rt.setHealth(s, 'unhealthy');
      // `restart: no`: reported unhealthy, left as it is (Docker's behaviour).
      if ((s.spec.restartPolicy ?? 'always') === 'no') return;
      this.onExit(s, { unhealthy: true }, 'became unhealthy');
      return;
    }
    if (e.action === 'healthy') {
      rt.setHealth(s, 'healthy');
      if (s.state === 'starting') rt.move(s, 'started');
      this.requestHeal();
      return;
    }
    if (e.action === 'destroy' && s.dockerId === e.id && (s.state === 'running' || s.state === 'starting')) {
      rt.log.warn('a container of the spec was removed by someone; re-creating it', { container: s.spec.name });
      rt.move(s, 'died');
      this.requestHeal();
    }
  }

  /** It exited (or turned unhealthy) without the agent asking: its restart policy decides. */
  private onExit(s: Supervised, exit: { exitCode?: number; unhealthy?: boolean }, why: string): void {
    const rt = this.rt;
    const decision = decideRestart(s.spec, exit, s.failureRestarts);
    if (exit.exitCode !== undefined) s.lastExitCode = exit.exitCode;
    if (decision.kind === 'leave-down') {
      rt.move(s, 'completed');
      rt.log.info(`container ${why}; its restart policy leaves it down`, { container: s.spec.name, restartPolicy: s.spec.restartPolicy ?? 'always' });
      void this.captureLogs(s);
      return;
    }
    if (decision.kind === 'give-up') {
      void this.captureLogs(s);
      rt.markFailed(s, decision.reason, false);
      if (exit.unhealthy) void rt.stopCall(s);
      this.stopDependents(s.spec.name);
      return;
    }
    if (s.spec.restartPolicy === 'on-failure') {
      s.failureRestarts += 1;
      rt.saveFailureRestarts();
    }
    this.recordCrash(s, why);
  }

  private recordCrash(s: Supervised, why: string): void {
    const rt = this.rt;
    const now = Date.now();
    const uptime = s.startedAtMs > 0 ? now - s.startedAtMs : 0;
    s.restarts += 1;
    s.consecutiveFailures = nextFailureCount(s.consecutiveFailures, uptime, this.backoff);
    const delay = backoffDelayMs(s.consecutiveFailures, this.backoff);
    s.notBeforeMs = now + delay;
    rt.move(s, 'died');
    rt.log.warn(`container ${why}; restarting it`, { container: s.spec.name, restarts: s.restarts, delayMs: delay, uptimeMs: uptime });
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
    this.stopDependents(s.spec.name);
    this.requestHeal();
  }

  /**
   * The dependents of a dead container (transitively) go down while it comes back: each is
   * stopped concurrently, with its own stop signal and timeout, and nobody waits for them. The
   * dead container is started at once by the next heal pass; each dependent is started by a
   * later pass once it has stopped and everything it depends on runs (healthy, with a health check).
   */
  private stopDependents(name: string): void {
    for (const d of this.rt.graph.dependentsOf(name)) {
      const s = this.rt.sups.get(d);
      if (!s || (s.state !== 'running' && s.state !== 'starting')) continue;
      this.rt.stopInBackground(s, `stopping a dependent until "${name}" runs again`, () => this.requestHeal());
    }
  }

  private async captureLogs(s: Supervised): Promise<void> {
    try {
      const text = await this.rt.engine().containerLogs(s.spec.name, LOG_LINES_KEPT);
      s.lastLogLines = text.split('\n').filter((l) => l !== '').slice(-LOG_LINES_KEPT);
    } catch {
      /* best effort */
    }
  }
}

/** A dependency lets its dependents start when it runs (healthy, with a health check) or completed cleanly. */
function isSatisfied(s: Supervised | undefined): boolean {
  return s !== undefined && (s.state === 'running' || (s.state === 'exited' && s.lastExitCode === 0));
}
