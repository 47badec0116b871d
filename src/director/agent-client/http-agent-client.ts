import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import type { Dispatcher } from 'undici';
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
import type { DnsPush, DnsPushResult, DnsRecordSet } from '../../common/contracts/dns-records.js';
import { CancelledError, TimeoutError, fromErrorBody } from '../../common/errors.js';
import { createHttpsDispatcher, HttpsClient, seg, type HttpsTlsOptions } from '../../common/http/https-client.js';
import { isRetryable } from '../../common/retry.js';
import { abortReason, Deadline, pollUntil } from '../../common/waiting.js';
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
  /** How long a long action (apply, stop …) may run before the client gives up and cancels it. */
  taskTimeoutMs?: number;
  pollIntervalMs?: number;
  /** How long to wait for a cancelled task to stop before saying it may still run. */
  cancelWaitMs?: number;
  /** Largest answer accepted (a `fetch_logs` of a chatty container is the big one). */
  maxResponseBytes?: number;
  /** Shared keep-alive pool (the connector passes one per agent identity). */
  dispatcher?: Dispatcher;
}

const DEFAULTS = {
  requestTimeoutMs: 30_000,
  taskTimeoutMs: 30 * 60_000,
  pollIntervalMs: 200,
  cancelWaitMs: 60_000,
  maxResponseBytes: 16 * 1024 * 1024,
};

/** A disk copy can take hours: its caller (disk-resize.ts) bounds it with its own signal. */
const MIGRATE_TIMEOUT_MS = 7 * 24 * 3600_000;

/**
 * The TLS options the director reaches one agent with. Agent certificates issued by the director
 * name the agent (CN), not the VM's address (unknown when the certificate is issued): the usual
 * address check or the agent's name is accepted (src/director/agent-identity.ts).
 */
export function agentTlsOptions(agentId: string, tls: { caPem: string; certPem: string; keyPem: string }): HttpsTlsOptions {
  const byName = agentServerIdentityCheck(agentId);
  return {
    ...tls,
    checkServerIdentity: (host: string, cert: PeerCertificate) =>
      checkServerIdentity(host, cert) === undefined ? undefined : byName(host, cert),
  };
}

/**
 * The director's side of the agent wire format (src/common/contracts/agent-protocol.ts) over
 * HTTPS with mutual TLS. Long actions start a task and poll it; a poll that fails for lack of an
 * answer is repeated until the task's deadline, and a task given up on (signal, deadline) is
 * cancelled on the agent (`cancel_task`) and waited for before the call rejects.
 */
export class HttpAgentClient implements AgentApi {
  private readonly http: HttpsClient;
  private readonly o: typeof DEFAULTS & HttpAgentClientOptions;
  private readonly where: string;

  constructor(options: HttpAgentClientOptions) {
    this.o = { ...DEFAULTS, ...stripUndefined(options) };
    this.where = `agent ${options.agentId} at ${options.baseUrl}`;
    const tls = agentTlsOptions(options.agentId, options);
    this.http = new HttpsClient({
      baseUrl: options.baseUrl,
      peerName: this.where,
      ...(options.dispatcher ? { dispatcher: options.dispatcher } : { tls }),
      timeoutMs: this.o.requestTimeoutMs,
      maxResponseBytes: this.o.maxResponseBytes,
      unreachableHint: 'check that the VM is running and its agent is up.',
      untrustedHint: 'Another VM may have taken its address; check it with `bosun vms`.',
    });
  }

  ping(): Promise<'pong'> {
    return this.quick<'pong'>('ping', {});
  }

  getState(options: { vitals?: boolean } = {}): Promise<AgentState> {
    return this.quick<AgentState>('get_state', { vitals: options.vitals === true });
  }

  async apply(spec: InstanceSpec, options: LongActionOptions = {}): Promise<void> {
    await this.long('apply', { spec }, options);
  }

  async start(options: LongActionOptions = {}): Promise<void> {
    await this.long('start', {}, options);
  }

  async stop(options: LongActionOptions = {}): Promise<void> {
    await this.long('stop', {}, options);
  }

  async drain(options: LongActionOptions = {}): Promise<void> {
    await this.long('drain', {}, options);
  }

  async mountDisk(req: MountDiskRequest, options: LongActionOptions = {}): Promise<void> {
    await this.long('mount_disk', req, options);
  }

  async unmountDisk(diskCid: string, options: LongActionOptions = {}): Promise<void> {
    await this.long('unmount_disk', { diskCid }, options);
  }

  async migrateDisk(req: MigrateDiskRequest, options: LongActionOptions<MigrateDiskProgress> = {}): Promise<MigrateDiskResult> {
    return (await this.long('migrate_disk', req, options as LongActionOptions, MIGRATE_TIMEOUT_MS)) as MigrateDiskResult;
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
    return this.quick<RunCommandResult>('run_command', body, { timeoutMs: (timeoutMs ?? 60_000) + this.o.requestTimeoutMs });
  }

  /** `PUT /agent/v1/dns`; a delta against another version rejects with DnsVersionMismatchError (`details.version`). */
  updateDns(push: DnsPush): Promise<DnsPushResult> {
    return this.http.json<DnsPushResult>('PUT', `${AGENT_API_PREFIX}/dns`, { json: push });
  }

  getDns(): Promise<{ version: number; set: DnsRecordSet }> {
    return this.http.json<{ version: number; set: DnsRecordSet }>('GET', `${AGENT_API_PREFIX}/dns`);
  }

  /** Closes the connection pool (only when this client made its own). */
  close(): Promise<void> {
    return this.http.close();
  }

  private async quick<T>(action: string, body: unknown, options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<T> {
    const res = await this.http.json<{ value: T }>('POST', `${AGENT_API_PREFIX}/actions/${action}`, { json: body, ...options });
    return res.value;
  }

  private async long(action: string, body: unknown, options: LongActionOptions, taskTimeoutMs = this.o.taskTimeoutMs): Promise<unknown> {
    const { signal, onProgress } = options;
    const started = await this.http.json<{ task: AgentTaskInfo }>('POST', `${AGENT_API_PREFIX}/actions/${action}`, {
      json: body,
      ...(signal ? { signal } : {}),
    });
    let task = started.task;
    const deadline = new Deadline(
      taskTimeoutMs,
      `Agent ${this.o.agentId} (${this.o.baseUrl}) did not finish "${action}" (task ${task.id}); check the VM with \`bosun ssh\``,
      signal,
    );
    try {
      if (task.state === 'running') task = await this.waitForTask(task.id, deadline.signal, taskTimeoutMs, onProgress);
    } catch (err) {
      // Given up on (signal, deadline, a poll that cannot succeed): the task must not run on
      // unseen. A task the agent no longer knows (it restarted) has nothing left to cancel.
      if (isNotFound(err)) throw err;
      const reason = deadline.signal.aborted ? abortReason(deadline.signal) : (err as Error);
      await this.cancelTask(task.id, action, reason);
      throw reason;
    } finally {
      deadline.dispose();
    }
    if (task.state === 'failed') {
      throw fromErrorBody(undefined, { error: task.error ?? { code: 'internal', message: `Agent ${this.o.agentId}: "${action}" failed.` } });
    }
    if (task.state === 'cancelled') {
      throw new CancelledError(task.error?.message ?? `Agent ${this.o.agentId}: "${action}" was cancelled on the agent (task ${task.id}).`);
    }
    return task.value;
  }

  /**
   * Polls until the task is no longer running. A poll that got no answer (timeout, connection
   * refused or reset: errors marked retryable) is repeated; any other failure ends the wait.
   */
  private waitForTask(taskId: string, signal: AbortSignal | undefined, timeoutMs: number, onProgress?: (p: unknown) => void): Promise<AgentTaskInfo> {
    // Most long actions (stop, mount, start) end within tens of ms: poll soon, then back off to the
    // interval, so that a sequence of them (a disk resize's stopped window) does not wait 200 ms each.
    return pollUntil(
      async (probeSignal) => {
        const task = await this.http.json<AgentTaskInfo>('GET', `${AGENT_API_PREFIX}/tasks/${seg(taskId)}`, { signal: probeSignal });
        if (task.progress !== undefined) onProgress?.(task.progress);
        return task.state === 'running' ? undefined : task;
      },
      {
        // The caller's deadline (the signal) ends the wait; this one only backs it up.
        timeoutMs: signal ? timeoutMs + 60_000 : timeoutMs,
        intervalMs: Math.min(20, this.o.pollIntervalMs),
        maxIntervalMs: this.o.pollIntervalMs,
        what: `task ${taskId} on ${this.where}`,
        ...(signal ? { signal } : {}),
        isFatal: (err) => !isRetryable(err),
      },
    );
  }

  /** Asks the agent to cancel the task and waits until it stopped, so that no rollback races it. */
  private async cancelTask(taskId: string, action: string, reason: Error): Promise<void> {
    try {
      await this.quick('cancel_task', { taskId });
    } catch {
      // An agent without cancel_task, or one that does not answer: waiting below tells what happened.
    }
    try {
      await this.waitForTask(taskId, undefined, this.o.cancelWaitMs);
    } catch (err) {
      if (isNotFound(err)) return; // the agent restarted: the task is gone with it
      throw new TimeoutError(
        `Gave up on "${action}" on ${this.where} (${reason.message}), but its task ${taskId} did not stop within ` +
          `${Math.round(this.o.cancelWaitMs / 1000)} s of being cancelled and may still be running; check the VM with \`bosun ssh\` before acting on its disks.`,
        { cause: reason },
      );
    }
  }
}

function isNotFound(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === 'not_found';
}

function stripUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/** One pool per agent identity (the server check names the agent), made by the connector. */
export function agentDispatcher(agentId: string, tls: { caPem: string; certPem: string; keyPem: string }): Dispatcher {
  return createHttpsDispatcher(agentTlsOptions(agentId, tls));
}
