import { Agent as HttpsAgent, request } from 'node:https';
import type {
  AgentApi,
  AgentState,
  AgentTaskInfo,
  LongActionOptions,
  MigrateDiskProgress,
  MigrateDiskRequest,
  MigrateDiskResult,
  MountDiskRequest,
  RunCommandResult,
} from '../../common/contracts/agent-protocol.js';
import { AGENT_API_PREFIX } from '../../common/contracts/agent-protocol.js';
import type { InstanceSpec } from '../../common/contracts/instance-spec.js';
import { TimeoutError, UnavailableError, errorMessage, fromErrorBody } from '../../common/errors.js';
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import { agentServerIdentityCheck } from '../agent-identity.js';

export interface HttpAgentClientOptions {
  agentId: string;
  /** https://ip:port of the agent. */
  baseUrl: string;
  caPem: string;
  certPem: string;
  keyPem: string;
  /** Timeout of one HTTP call (quick actions, task polls). */
  requestTimeoutMs?: number;
  /** How long a long action (apply, stop …) may run before the client gives up waiting. */
  taskTimeoutMs?: number;
  pollIntervalMs?: number;
  /** Shared keep-alive agent (the connector passes one for all agents). */
  httpsAgent?: HttpsAgent;
}

/** The HTTP status each error code maps to (src/common/errors.ts), to rebuild a failed task's error. */
const STATUS_OF_CODE: Record<string, number> = {
  invalid_input: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  cancelled: 409,
  invalid_manifest: 422,
  internal: 500,
  unavailable: 503,
  timeout: 504,
};

const DEFAULTS = { requestTimeoutMs: 30_000, taskTimeoutMs: 30 * 60_000, pollIntervalMs: 200 };

/** The director's side of the agent wire format (src/agent/protocol.ts) over HTTPS with mutual TLS. */
export class HttpAgentClient implements AgentApi {
  private readonly httpsAgent: HttpsAgent;
  private readonly o: Required<Omit<HttpAgentClientOptions, 'httpsAgent'>>;

  constructor(options: HttpAgentClientOptions) {
    this.o = { ...DEFAULTS, ...options } as Required<Omit<HttpAgentClientOptions, 'httpsAgent'>>;
    this.httpsAgent =
      options.httpsAgent ?? new HttpsAgent({ keepAlive: true, maxSockets: 8, ca: options.caPem, cert: options.certPem, key: options.keyPem });
  }

  ping(): Promise<'pong'> {
    return this.quick<'pong'>('ping', {});
  }

  getState(options: { vitals?: boolean } = {}): Promise<AgentState> {
    return this.quick<AgentState>('get_state', { vitals: options.vitals === true });
  }

  async apply(spec: InstanceSpec): Promise<void> {
    await this.long('apply', { spec });
  }

  async start(): Promise<void> {
    await this.long('start', {});
  }

  async stop(): Promise<void> {
    await this.long('stop', {});
  }

  async drain(): Promise<void> {
    await this.long('drain', {});
  }

  async mountDisk(req: MountDiskRequest): Promise<void> {
    await this.long('mount_disk', req);
  }

  async unmountDisk(diskCid: string): Promise<void> {
    await this.long('unmount_disk', { diskCid });
  }

  /** A disk copy can take hours: the caller (disk-resize.ts) applies its own timeout. */
  async migrateDisk(req: MigrateDiskRequest, options: LongActionOptions<MigrateDiskProgress> = {}): Promise<MigrateDiskResult> {
    const { onProgress } = options;
    const progress = onProgress === undefined ? undefined : (p: unknown): void => onProgress(p as MigrateDiskProgress);
    return (await this.long('migrate_disk', req, progress, 7 * 24 * 3600_000)) as MigrateDiskResult;
  }

  listDisk(): Promise<string[]> {
    return this.quick<string[]>('list_disk', {});
  }

  fetchLogs(container: string, lines?: number): Promise<string> {
    return this.quick<string>('fetch_logs', lines === undefined ? { container } : { container, lines });
  }

  runCommand(command: string, timeoutMs?: number): Promise<RunCommandResult> {
    const body = timeoutMs === undefined ? { command } : { command, timeoutMs };
    // The call itself must outlive the command's own timeout.
    return this.quick<RunCommandResult>('run_command', body, (timeoutMs ?? 60_000) + this.o.requestTimeoutMs);
  }

  private async quick<T>(action: string, body: unknown, timeoutMs = this.o.requestTimeoutMs): Promise<T> {
    const res = (await this.call('POST', `${AGENT_API_PREFIX}/actions/${action}`, body, timeoutMs)) as { value: T };
    return res.value;
  }

  private async long(action: string, body: unknown, onProgress?: (p: unknown) => void, taskTimeoutMs = this.o.taskTimeoutMs): Promise<unknown> {
    const started = (await this.call('POST', `${AGENT_API_PREFIX}/actions/${action}`, body, this.o.requestTimeoutMs)) as { task: AgentTaskInfo };
    let task = started.task;
    const deadline = Date.now() + taskTimeoutMs;
    // Most long actions (stop, mount, start) end within tens of ms: poll soon, then back off to the
    // interval, so that a sequence of them (a disk resize's stopped window) does not wait 200 ms each.
    let wait = Math.min(20, this.o.pollIntervalMs);
    while (task.state === 'running') {
      if (Date.now() > deadline) {
        throw new TimeoutError(`Agent ${this.o.agentId} (${this.o.baseUrl}) did not finish "${action}" within ${Math.round(taskTimeoutMs / 1000)} s (task ${task.id}); check the VM with \`bosun ssh\`.`);
      }
      await sleep(wait);
      wait = Math.min(wait * 2, this.o.pollIntervalMs);
      task = (await this.call('GET', `${AGENT_API_PREFIX}/tasks/${task.id}`, undefined, this.o.requestTimeoutMs)) as AgentTaskInfo;
      if (task.progress !== undefined) onProgress?.(task.progress);
    }
    if (task.state === 'failed') {
      const code = task.error?.code ?? 'internal';
      throw fromErrorBody(STATUS_OF_CODE[code] ?? 500, { error: { code, message: task.error?.message ?? `Agent ${this.o.agentId}: "${action}" failed.` } });
    }
    return task.value;
  }

  private call(method: 'GET' | 'POST', path: string, body: unknown, timeoutMs: number): Promise<unknown> {
    const url = new URL(path, this.o.baseUrl);
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const where = `agent ${this.o.agentId} at ${this.o.baseUrl}`;
    return new Promise((resolve, reject) => {
      const headers: Record<string, string | number> = { accept: 'application/json' };
      if (payload) {
        headers['content-type'] = 'application/json';
        headers['content-length'] = payload.length;
      }
      // Agent certificates issued by the director name the agent (CN), not the VM's address (unknown
      // when the certificate is issued): accept the usual address check or the agent's name.
      const byName = agentServerIdentityCheck(this.o.agentId);
      const tlsCheck = { checkServerIdentity: (host: string, cert: PeerCertificate) => (checkServerIdentity(host, cert) === undefined ? undefined : byName(host, cert)) };
      const req = request(url, { method, agent: this.httpsAgent, headers, timeout: timeoutMs, ...tlsCheck }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (err) => reject(new UnavailableError(`The connection to ${where} broke: ${errorMessage(err)}`, { cause: err })));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown;
          try {
            parsed = text ? JSON.parse(text) : undefined;
          } catch {
            parsed = undefined;
          }
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) resolve(parsed);
          else reject(fromErrorBody(status, parsed ?? { error: { message: `${where} answered HTTP ${status}: ${text.slice(0, 200)}` } }));
        });
      });
      req.on('timeout', () => req.destroy(new TimeoutError(`No answer from ${where} within ${timeoutMs} ms (${method} ${path}); the agent may be hung or the VM gone.`)));
      req.on('error', (err) => {
        if (err instanceof TimeoutError) reject(err);
        else reject(new UnavailableError(`Cannot reach ${where} (${method} ${path}): ${errorMessage(err)}; check that the VM is running and its agent is up.`, { cause: err }));
      });
      req.end(payload);
    });
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
