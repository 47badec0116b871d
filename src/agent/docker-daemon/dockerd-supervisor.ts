import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DockerEngine } from '../docker-engine/docker-engine.js';
import { DockerodeEngine } from '../docker-engine/dockerode-engine.js';
import type { DockerDaemonSpec } from '../../common/contracts/instance-spec.js';
import type { AgentSettings } from '../../common/contracts/agent-settings.js';
import type { Logger } from '../../common/logger.js';
import { UnavailableError } from '../../common/errors.js';
import { DEFAULT_DOCKER_SPEC, dockerdArgs, dockerdPaths, type DockerdPaths } from './dockerd-args.js';
import { tailFile } from './tail-file.js';
import { dockerdTransition, reportedState, type DockerdEvent, type DockerdState } from './dockerd-state.js';
import { sleep } from '../../common/waiting.js';

const READY_TIMEOUT_MS = 60_000;
const ADOPTED_POLL_MS = 250;
const MAX_BACKOFF_MS = 30_000;
const STABLE_AFTER_MS = 10_000;
const FAILED_AFTER_ATTEMPTS = 3;

export interface DockerdEvents {
  /**
   * dockerd answers; `restarted` is false for the first start of this agent (or an adoption),
   * `onPurpose` is true when the agent restarted it itself (changed options).
   */
  onUp(restarted: boolean, onPurpose: boolean): void;
  onDown(): void;
  onFailing(lastLines: string[]): void;
}

/**
 * Runs the VM's own dockerd: starts it (or adopts one a previous agent started), restarts it with
 * backoff when it exits, and restarts it when the instance's daemon options change.
 */
export class DockerdSupervisor {
  readonly paths: DockerdPaths;
  readonly engine: DockerEngine;
  private child: ChildProcess | null = null;
  private adoptedPid: number | null = null;
  private adoptTimer: NodeJS.Timeout | null = null;
  private args: string[];
  /** Extra environment of the dockerd process (the docker job's env.http_proxy …). */
  private env: Record<string, string> = {};
  private registryCaCerts: NonNullable<DockerDaemonSpec['registryCaCerts']> = [];
  private current: DockerdState = 'idle';
  private restartCount = 0;
  private attempts = 0;
  /** Deaths soon after starting (drive the backoff); reset when dockerd had stayed up a while. */
  private quickExits = 0;
  /** Starts that never answered, in a row: three of them and dockerd is reported failed. */
  private failedStarts = 0;
  private upSince = 0;
  private readyWaiters: Array<() => void> = [];

  constructor(
    private readonly settings: AgentSettings,
    private readonly log: Logger,
    private readonly events: DockerdEvents,
    private readonly binary = 'dockerd',
    engine?: DockerEngine,
    /** Where dockerd looks for registry CAs (the VM's own /etc/docker). */
    private readonly certsDir = '/etc/docker/certs.d',
  ) {
    this.paths = dockerdPaths(settings);
    this.engine = engine ?? new DockerodeEngine(this.paths.socket);
    this.args = dockerdArgs(settings, this.paths, DEFAULT_DOCKER_SPEC);
  }

  /** The state as the agent reports it. */
  get state(): 'running' | 'starting' | 'restarting' | 'failed' {
    return reportedState(this.current);
  }

  /** The supervisor's own state machine state (dockerd-state.ts). */
  get machineState(): DockerdState {
    return this.current;
  }

  get restarts(): number {
    return this.restartCount;
  }

  get isUp(): boolean {
    return this.current === 'running';
  }

  lastLogLines(): string[] {
    return tailFile(this.paths.logFile, 20);
  }

  /** Adopts a running dockerd with the same options, or starts one. */
  async start(spec: DockerDaemonSpec | null): Promise<void> {
    this.use(spec ?? DEFAULT_DOCKER_SPEC);
    await this.installRegistryCas();
    const pid = await this.runningPid();
    if (pid !== null && (await this.answers())) {
      const recorded = await readFile(this.paths.argsFile, 'utf8').catch(() => '');
      if (recorded === this.launchFingerprint()) {
        this.log.info('adopted the running dockerd', { pid });
        this.adopt(pid);
        return;
      }
      this.log.info('the running dockerd has other options; restarting it', { pid });
      await this.killPid(pid);
    }
    this.spawnDockerd();
  }

  optionsDiffer(spec: DockerDaemonSpec): boolean {
    return fingerprint(dockerdArgs(this.settings, this.paths, spec), spec.env ?? {}) !== this.launchFingerprint();
  }

  /**
   * Restarts dockerd when the instance's daemon options (flags or environment) differ from the
   * running ones. Registry CAs need no restart: dockerd reads certs.d at each registry connection.
   */
  async ensureOptions(spec: DockerDaemonSpec): Promise<boolean> {
    const differ = this.optionsDiffer(spec);
    this.use(spec);
    await this.installRegistryCas();
    if (!differ) return false;
    this.log.info('dockerd options changed; restarting dockerd');
    this.move('replace');
    await this.stopCurrent();
    this.spawnDockerd();
    await this.waitUntilUp();
    return true;
  }

  /** Resolves when dockerd answers; throws UnavailableError after `timeoutMs`. */
  async waitUntilUp(timeoutMs = READY_TIMEOUT_MS): Promise<void> {
    if (this.current === 'running') return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.readyWaiters = this.readyWaiters.filter((w) => w !== done);
        const lines = this.lastLogLines();
        reject(new UnavailableError(`The VM's Docker daemon did not come up within ${Math.round(timeoutMs / 1000)} s; its last log lines: ${lines.slice(-5).join(' | ') || '(none)'}. See ${this.paths.logFile} on the VM.`));
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      this.readyWaiters.push(done);
    });
  }

  /** Stops supervising; leaves dockerd running (containers keep running while the agent is away). */
  detach(): void {
    this.move('detach');
    if (this.adoptTimer) clearInterval(this.adoptTimer);
  }

  private use(spec: DockerDaemonSpec): void {
    this.args = dockerdArgs(this.settings, this.paths, spec);
    this.env = spec.env ?? {};
    this.registryCaCerts = spec.registryCaCerts ?? [];
  }

  /** What identifies a running dockerd's options (recorded next to it, compared on adoption). */
  private launchFingerprint(): string {
    return fingerprint(this.args, this.env);
  }

  /** The director's registry CA, and each private registry CA the instance names (`<certs.d>/<domain>/ca.crt`). */
  private async installRegistryCas(): Promise<void> {
    const cas = this.settings.registryHost ? [{ domain: this.settings.registryHost, caCert: this.settings.caPem }] : [];
    for (const ca of [...cas, ...this.registryCaCerts]) {
      if (!REGISTRY_DOMAIN.test(ca.domain)) {
        this.log.warn('not installing a registry CA: its domain is not a host[:port]', { domain: ca.domain });
        continue;
      }
      const dir = join(this.certsDir, ca.domain);
      try {
        await mkdir(dir, { recursive: true });
        await writeFile(join(dir, 'ca.crt'), ca.caCert);
      } catch (err) {
        this.log.warn('cannot install a registry CA for dockerd', { dir, error: String(err) });
      }
    }
  }

  private async runningPid(): Promise<number | null> {
    const raw = await readFile(this.paths.pidFile, 'utf8').catch(() => '');
    const pid = Number.parseInt(raw.trim(), 10);
    if (!Number.isInteger(pid) || pid <= 0) return null;
    return isAlive(pid) ? pid : null;
  }

  private async answers(): Promise<boolean> {
    try {
      await this.engine.ping();
      return true;
    } catch {
      return false;
    }
  }

  private adopt(pid: number): void {
    this.adoptedPid = pid;
    this.markUp();
    // Not our child: no exit event, so watch it.
    this.adoptTimer = setInterval(() => {
      if (isAlive(pid)) return;
      if (this.adoptTimer) clearInterval(this.adoptTimer);
      this.adoptTimer = null;
      this.adoptedPid = null;
      this.onExit(`adopted dockerd (pid ${pid}) is gone`);
    }, ADOPTED_POLL_MS);
  }

  private move(event: DockerdEvent): DockerdState {
    const from = this.current;
    this.current = dockerdTransition(from, event);
    if (this.current !== from) this.log.debug('dockerd state', { from, to: this.current, event });
    return from;
  }

  private spawnDockerd(): void {
    if (this.current === 'detached') return;
    this.attempts += 1;
    this.move('spawn');
    const out = openSync(this.paths.logFile, 'a');
    let child: ChildProcess;
    try {
      // Output goes to a file, never a pipe: a pipe would break (and kill dockerd with SIGPIPE)
      // when the agent restarts, and dockerd must outlive the agent. Detached for the same reason.
      child = spawn(this.binary, this.args, { stdio: ['ignore', out, out], detached: true, env: { ...process.env, ...this.env } });
    } finally {
      closeSync(out);
    }
    this.child = child;
    void writeFile(this.paths.argsFile, this.launchFingerprint()).catch(() => undefined);
    this.log.info('dockerd started', { pid: child.pid, attempt: this.attempts });
    child.on('error', (err) => this.log.error('cannot run dockerd', { error: err.message }));
    child.on('exit', (code, signal) => {
      if (this.child !== child) return;
      this.child = null;
      this.onExit(`dockerd exited (code ${code ?? 'none'}, signal ${signal ?? 'none'})`);
    });
    void this.pollUntilUp(child);
  }

  private async pollUntilUp(child: ChildProcess): Promise<void> {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (this.child === child && Date.now() < deadline) {
      if (await this.answers()) {
        this.markUp();
        return;
      }
      await sleep(50);
    }
    if (this.child === child) {
      this.log.error('dockerd does not answer; killing it to start again');
      child.kill('SIGKILL');
    }
  }

  private markUp(): void {
    if (this.current === 'detached') return;
    const from = this.move('up');
    const onPurpose = from === 'replacing';
    const restarted = from === 'restarting' || from === 'failed' || onPurpose;
    this.failedStarts = 0;
    this.upSince = Date.now();
    const waiters = this.readyWaiters;
    this.readyWaiters = [];
    for (const w of waiters) w();
    if (restarted && !onPurpose) this.restartCount += 1;
    this.log.info(restarted ? 'dockerd is back' : 'dockerd is up');
    this.events.onUp(restarted, onPurpose);
  }

  private onExit(why: string): void {
    if (this.current === 'detached' || this.current === 'replacing') return;
    const wasUp = this.move('exit') === 'running';
    if (!wasUp) this.failedStarts += 1;
    this.quickExits = wasUp && Date.now() - this.upSince >= STABLE_AFTER_MS ? 1 : this.quickExits + 1;
    if (this.failedStarts >= FAILED_AFTER_ATTEMPTS) this.move('give-up');
    const delay = this.quickExits <= 1 ? 0 : Math.min(MAX_BACKOFF_MS, 500 * 2 ** (this.quickExits - 2));
    this.log.warn(`${why}; restarting it`, { delayMs: delay });
    if (wasUp) this.events.onDown();
    if (this.state === 'failed') this.events.onFailing(this.lastLogLines());
    setTimeout(() => this.spawnDockerd(), delay).unref();
  }

  private async stopCurrent(): Promise<void> {
    if (this.adoptTimer) clearInterval(this.adoptTimer);
    this.adoptTimer = null;
    const pid = this.child?.pid ?? this.adoptedPid;
    this.child = null;
    this.adoptedPid = null;
    if (pid !== undefined && pid !== null) await this.killPid(pid);
  }

  private async killPid(pid: number): Promise<void> {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      return;
    }
    const deadline = Date.now() + 20_000;
    while (isAlive(pid) && Date.now() < deadline) await sleep(100);
    if (isAlive(pid)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
      while (isAlive(pid)) await sleep(50);
    }
  }
}

/** A registry's certs.d directory name: host or host:port, nothing that walks out of certs.d. */
const REGISTRY_DOMAIN = /^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:\d{1,5})?$/;

/** The flags alone when there is no extra environment, so a dockerd started by an older agent is adopted. */
function fingerprint(args: readonly string[], env: Record<string, string>): string {
  return Object.keys(env).length === 0 ? JSON.stringify(args) : JSON.stringify({ args, env });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie still answers kill(0) but is dead.
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2).charAt(0) !== 'Z';
  } catch {
    return false;
  }
}
