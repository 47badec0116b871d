import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { access, chmod, constants, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pollUntil, sleep } from '../common/waiting.js';
import YAML from 'yaml';
import { errorMessage, InvalidInputError, TimeoutError, UnavailableError } from '../common/errors.js';
import { HttpsClient } from '../common/http/https-client.js';
import type { Logger } from '../common/logger.js';
import { basicAuthorization, RegistryFront, type RegistryCredentials } from './registry-front.js';

/**
 * The director's image registry: Debian's `docker-registry` (the distribution project, 2.8) run as
 * a supervised child process on a unix socket, behind a TLS front (registry-front.ts) on the
 * address the VMs reach, with a certificate from the director's CA: reads are open, pushes and
 * deletes need the write credentials (writeAuthorization), which only the director holds. Every
 * VM's dockerd uses it as `--registry-mirror`.
 *
 * Layout under `<dataDir>/registry/` (mode 0700): config.yml, registry.sock, storage/ (the blobs
 * and repositories, the registry's own filesystem driver layout), registry.pid.
 */
export const DEFAULT_REGISTRY_PORT = 25556;
export const DEFAULT_REGISTRY_BINARY = '/usr/bin/docker-registry';

export interface RegistryServerOptions {
  dataDir: string;
  /** The address the VMs reach, e.g. the bridge address 10.244.0.1. */
  host: string;
  port?: number;
  /** The registry's certificate and key, and the CA that issued it (the readiness probe trusts only that CA). */
  tls: { certPem: string; keyPem: string; caPem: string };
  /** Needed for pushes and deletes; a random password per start when not given. */
  writeCredentials?: RegistryCredentials;
  logger: Logger;
  binary?: string;
  startTimeoutMs?: number;
}

export type RegistryServerState = 'starting' | 'running' | 'restarting' | 'stopping' | 'stopped';

const MAX_BACKOFF_MS = 30_000;
const HEALTHY_RESET_MS = 60_000;

export class RegistryServer {
  private child: ChildProcess | null = null;
  private stateValue: RegistryServerState = 'starting';
  private restartTimer: NodeJS.Timeout | null = null;
  private backoffMs = 1000;
  private startedAt = 0;
  private readonly recentOutput: string[] = [];

  private front: RegistryFront | null = null;
  private prober: HttpsClient | null = null;

  private constructor(
    private readonly options: Required<Omit<RegistryServerOptions, 'tls'>> &
      Pick<RegistryServerOptions, 'tls'>,
    private readonly dir: string,
    private readonly log: Logger,
  ) {}

  static async create(options: RegistryServerOptions): Promise<RegistryServer> {
    const resolved = {
      ...options,
      port: options.port ?? DEFAULT_REGISTRY_PORT,
      binary: options.binary ?? DEFAULT_REGISTRY_BINARY,
      startTimeoutMs: options.startTimeoutMs ?? 20_000,
      writeCredentials: options.writeCredentials ?? { username: 'bosun-director', password: randomBytes(24).toString('hex') },
    };
    if (!Number.isInteger(resolved.port) || resolved.port < 1 || resolved.port > 65535) {
      throw new InvalidInputError(
        `The registry port ${resolved.port} is not a TCP port (1-65535); fix the director's registry port setting.`,
      );
    }
    try {
      await access(resolved.binary, constants.X_OK);
    } catch (err) {
      throw new UnavailableError(
        `The image registry program ${resolved.binary} is missing; install Debian's docker-registry package (scripts/setup.sh does it).`,
        { cause: err },
      );
    }
    const dir = path.join(options.dataDir, 'registry');
    const server = new RegistryServer(resolved, dir, options.logger.child({ component: 'registry' }));
    await server.writeConfig();
    await server.killLeftover();
    try {
      server.front = await RegistryFront.listen({
        host: resolved.host,
        port: resolved.port,
        tls: options.tls,
        backendSocket: server.socketPath,
        writeCredentials: resolved.writeCredentials,
        logger: server.log,
      });
      await server.spawnAndWait();
    } catch (err) {
      await server.stop();
      throw err;
    }
    return server;
  }

  get state(): RegistryServerState {
    return this.stateValue;
  }

  /** `10.244.0.1:25556`: what dockerd's --registry-mirror and certs.d directory are named after. */
  get hostPort(): string {
    return this.options.host.includes(':')
      ? `[${this.options.host}]:${this.options.port}`
      : `${this.options.host}:${this.options.port}`;
  }

  get url(): string {
    return `https://${this.hostPort}`;
  }

  /** The running registry process, if any (for diagnostics and tests). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** The Authorization header value that lets a client push and delete (the director's RegistryClient). */
  get writeAuthorization(): string {
    return basicAuthorization(this.options.writeCredentials);
  }

  /**
   * The real registry's socket: only root (the director) can reach it. A unix socket path has a
   * ~108-byte limit; a data directory deeper than that gets its socket in a private temp directory.
   */
  get socketPath(): string {
    const inDir = path.join(this.dir, 'registry.sock');
    if (Buffer.byteLength(inDir) <= 100) return inDir;
    const id = createHash('sha256').update(this.dir).digest('hex').slice(0, 16);
    return path.join(os.tmpdir(), `bosun-registry-${id}`, 'registry.sock');
  }

  get storageDir(): string {
    return path.join(this.dir, 'storage');
  }

  private get configPath(): string {
    return path.join(this.dir, 'config.yml');
  }

  private get pidPath(): string {
    return path.join(this.dir, 'registry.pid');
  }

  private async writeConfig(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    await chmod(this.dir, 0o700);
    await mkdir(path.dirname(this.socketPath), { recursive: true, mode: 0o700 });
    await mkdir(this.storageDir, { recursive: true });
    // The TLS certificate and key are the front's (in memory); a previous version kept them here.
    await rm(path.join(this.dir, 'tls'), { recursive: true, force: true });
    const config = {
      version: 0.1,
      log: { level: 'info', formatter: 'text', fields: { service: 'registry' } },
      storage: {
        filesystem: { rootdirectory: this.storageDir },
        delete: { enabled: true },
        cache: { blobdescriptor: 'inmemory' },
        // Uploads are single requests from bosun; an abandoned one is cleaned up after a day.
        maintenance: { uploadpurging: { enabled: true, age: '24h', interval: '1h', dryrun: false } },
      },
      http: {
        // Only the front (registry-front.ts) talks to the registry itself.
        net: 'unix',
        addr: this.socketPath,
        // One registry process: the secret only signs upload state, so a fresh one per start is fine.
        secret: randomBytes(24).toString('hex'),
        headers: { 'X-Content-Type-Options': ['nosniff'] },
      },
      health: { storagedriver: { enabled: true, interval: '10s', threshold: 3 } },
    };
    await writeFile(this.configPath, YAML.stringify(config), { mode: 0o600 });
  }

  /** A registry left running by a director that was killed holds the port: stop it first. */
  private async killLeftover(): Promise<void> {
    await stopLeftoverRegistry(this.dir, this.log);
    await rm(this.socketPath, { force: true });
  }

  private spawnChild(): ChildProcess {
    // A socket file left by the previous process makes the registry fail with "address already in use".
    rmSync(this.socketPath, { force: true });
    // A clean environment: REGISTRY_* variables of the director's environment would override the config.
    const child = spawn(this.options.binary, ['serve', this.configPath], {
      env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    this.startedAt = Date.now();
    const onData = (chunk: Buffer): void => {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (!line.trim()) continue;
        this.recentOutput.push(line);
        if (this.recentOutput.length > 20) this.recentOutput.shift();
        if (registryLineLevel(line) === 'warn') this.log.warn(line);
        else this.log.debug(line);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.on('error', (err) =>
      this.log.error('the registry process could not be started', { error: errorMessage(err) }),
    );
    child.on('exit', (code, signal) => this.onExit(child, code, signal));
    if (child.pid !== undefined) {
      writeFile(this.pidPath, `${child.pid}\n`).catch((err: unknown) =>
        this.log.warn('could not write the registry pid file', { error: errorMessage(err) }),
      );
    }
    return child;
  }

  private onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.child !== child) return;
    this.child = null;
    if (this.stateValue === 'stopping' || this.stateValue === 'stopped' || this.stateValue === 'starting')
      return;
    if (Date.now() - this.startedAt > HEALTHY_RESET_MS) this.backoffMs = 1000;
    this.log.warn('the registry exited; restarting it', {
      code,
      signal,
      inMs: this.backoffMs,
      output: this.recentOutput.slice(-5),
    });
    this.stateValue = 'restarting';
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      if (this.stateValue !== 'restarting') return;
      this.spawnChild();
      this.stateValue = 'running';
    }, this.backoffMs);
    this.backoffMs = Math.min(this.backoffMs * 2, MAX_BACKOFF_MS);
  }

  private async spawnAndWait(): Promise<void> {
    this.stateValue = 'starting';
    const child = this.spawnChild();
    const exited = (): UnavailableError | undefined =>
      child.exitCode !== null || child.signalCode !== null || this.child !== child
        ? new UnavailableError(
            `The image registry exited at start-up (code ${String(child.exitCode ?? child.signalCode)}) while serving ${this.url}. ` +
              `Its last output: ${this.lastOutput()}. Check that the address is free and the certificate and key are valid.`,
          )
        : undefined;
    let fatal: UnavailableError | undefined;
    try {
      await pollUntil(
        async () => {
          fatal = exited();
          if (fatal) throw fatal;
          const status = await this.probe();
          if (status !== 200) throw new UnavailableError(`HTTP ${status}`);
          return true;
        },
        {
          timeoutMs: this.options.startTimeoutMs,
          intervalMs: 100,
          what: `The image registry did not answer on ${this.url}/v2/`,
          isFatal: (err) => err === fatal,
        },
      );
    } catch (err) {
      if (!(err instanceof TimeoutError)) throw err;
      throw new UnavailableError(`${err.message}. Its last output: ${this.lastOutput()}.`, { cause: err });
    }
    this.stateValue = 'running';
    this.log.info('registry is serving', { url: this.url, storage: this.storageDir, pid: child.pid });
  }

  private lastOutput(): string {
    return this.recentOutput.slice(-3).join(' | ') || '(none)';
  }

  /** GET /v2/ over the shared HTTPS client, trusting only the registry's CA; the HTTP status. */
  private async probe(): Promise<number> {
    if (!this.prober) {
      const host =
        this.options.host === '0.0.0.0' ? '127.0.0.1' : this.options.host === '::' ? '::1' : this.options.host;
      const hostPort = host.includes(':') ? `[${host}]:${this.options.port}` : `${host}:${this.options.port}`;
      this.prober = new HttpsClient({
        baseUrl: `https://${hostPort}`,
        peerName: `the image registry at https://${hostPort}`,
        tls: { caPem: this.options.tls.caPem },
        timeoutMs: 2000,
        maxResponseBytes: 64 * 1024,
      });
    }
    return (await this.prober.raw('GET', '/v2/')).status;
  }

  /** Answers GET /v2/ right now? For health checks. */
  async isHealthy(): Promise<boolean> {
    try {
      return (await this.probe()) === 200;
    } catch {
      return false;
    }
  }

  async stop(): Promise<void> {
    this.stateValue = 'stopping';
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = null;
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    this.child = null;
    await this.front?.close();
    this.front = null;
    await this.prober?.close();
    this.prober = null;
    await rm(this.pidPath, { force: true });
    await rm(this.socketPath, { force: true });
    this.stateValue = 'stopped';
  }
}

/**
 * How loud one line of the registry's output is in the director's log. The registry logs every
 * 4xx answer at level=error, and a client's HEAD probe of a blob or manifest it does not have yet
 * ("blob unknown", "manifest unknown": every push starts with them) is normal traffic: only real
 * errors (other error codes, 5xx, fatal, panic) are warnings.
 */
export function registryLineLevel(line: string): 'warn' | 'debug' {
  if (!/level=(error|fatal|panic)/.test(line)) return 'debug';
  if (/level=(fatal|panic)/.test(line)) return 'warn';
  if (/err\.code="?(blob unknown|manifest unknown|blob upload unknown|name unknown|unsupported)"?/.test(line)) return 'debug';
  if (/http\.response\.status=4\d\d/.test(line)) return 'debug';
  return 'warn';
}

/**
 * Stops a registry that a killed director left running on the registry directory `dir` (its
 * registry.pid names it; only a process serving this directory's config.yml is ours), and removes
 * the pid file. Used at start-up and by `bosun down --purge`.
 */
export async function stopLeftoverRegistry(dir: string, log?: Logger): Promise<void> {
  const pidPath = path.join(dir, 'registry.pid');
  let pid: number;
  try {
    pid = Number((await readFile(pidPath, 'utf8')).trim());
  } catch {
    return;
  }
  try {
    const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
    if (cmdline.includes(path.join(dir, 'config.yml'))) {
      log?.warn('stopping a registry left running by a previous director', { pid });
      process.kill(pid, 'SIGKILL');
      for (let i = 0; i < 50 && (await processExists(pid)); i++) await sleep(100);
    }
  } catch {
    // gone already, or not ours
  }
  await rm(pidPath, { force: true });
}

async function processExists(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
