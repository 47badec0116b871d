/**
 * The agent's contract with the director: the actions it answers (BOSH agent semantics), the state
 * it reports, the heartbeat it sends and the settings file the cloud writes for it.
 *
 * Wire format (HTTPS with mutual TLS, both sides' certificates signed by the director's CA):
 *   POST {agentUrl}/agent/v1/actions/{action}   body: the action's arguments as JSON
 *     → 200 { value }                           for a quick action
 *     → 202 { task: AgentTaskInfo }             for a long action; poll GET /agent/v1/tasks/{id}
 *     → 4xx/5xx { error: { code, message } }    (src/common/errors.ts ErrorBody)
 *   PUT  {agentUrl}/agent/v1/dns    body: DnsPush (dns-records.ts)
 *     → 200 DnsPushResult { version }           applied, or ignored when older than what the agent has
 *     → 409 { error: { code: 'dns_version_mismatch', details: { version } } }   a delta against another version
 *     → 400 invalid_input                       a malformed push
 *   GET  {agentUrl}/agent/v1/dns     → 200 { version, set: DnsRecordSet }
 *   POST {directorUrl}/internal/v1/agents/{agentId}/heartbeat   body: Heartbeat (agent → director)
 *   POST {directorUrl}/internal/v1/agents/{agentId}/alerts      body: AgentAlert
 */
import type { InstanceSpec } from './instance-spec.js';
import type { DiskHint } from './disk-hint.js';
import type { DnsPush, DnsPushResult, DnsRecordSet } from './dns-records.js';

export const AGENT_PORT = 6868;
export const AGENT_API_PREFIX = '/agent/v1';

export type JobState = 'running' | 'failing' | 'starting' | 'stopped' | 'unknown';

export type ContainerRunState =
  | 'running' // running and, where a health check exists, healthy
  | 'starting' // created/started but not yet running (or health check still starting)
  | 'unhealthy'
  | 'restarting' // dead and waiting for its backoff delay or its dependencies
  | 'stopped' // stopped on purpose (instance stopped)
  | 'exited' // exited and its `restart` policy leaves it down (`no`, or `on-failure` after exit 0): not a failure
  | 'failed' // could not be created/started (image missing, bad option …) or used up its `on-failure:N` restarts; `lastError` says why
  | 'missing'; // in the spec, not on dockerd (yet)

export interface ContainerState {
  name: string;
  state: ContainerRunState;
  dockerId?: string;
  image: string;
  /** Seconds since the container last started; 0 when not running. */
  uptimeSeconds: number;
  restarts: number;
  /** Set while restarts keep failing quickly (backoff is active). */
  flapping: boolean;
  lastExitCode?: number;
  lastError?: string;
  /** The last lines the container printed before it last died. */
  lastLogLines?: string[];
  cpuPercent?: number;
  memoryBytes?: number;
  health?: 'healthy' | 'unhealthy' | 'starting' | 'none';
}

export interface DiskUsage {
  percent: number;
  usedBytes: number;
  totalBytes: number;
  inodePercent?: number;
}

export interface Vitals {
  load: [number, number, number];
  cpu: { user: number; sys: number; wait: number };
  mem: { percent: number; kb: number };
  swap: { percent: number; kb: number };
  disk: { system?: DiskUsage; ephemeral?: DiskUsage; persistent?: DiskUsage };
}

export interface AgentState {
  agentId: string;
  vmCid: string;
  jobState: JobState;
  /** Hash of the last applied spec, or null when nothing was applied yet. */
  specHash: string | null;
  /** True when the instance is stopped on purpose (`stop` action): containers stay down. */
  stopped: boolean;
  dockerd: { state: 'running' | 'starting' | 'restarting' | 'failed'; restarts: number; lastLogLines?: string[] };
  containers: ContainerState[];
  /** Disk cids mounted by the agent (list_disk). */
  disks: string[];
  vitals?: Vitals;
}

export interface Heartbeat {
  agentId: string;
  vmCid: string;
  deployment: string | null;
  group: string | null;
  index: number | null;
  instanceId: string | null;
  jobState: JobState;
  containers: Array<Pick<ContainerState, 'name' | 'state' | 'restarts' | 'flapping' | 'uptimeSeconds'>>;
  vitals: Vitals;
  timestamp: string;
  /**
   * The VM's address as the agent sees it (its settings, else its default-route interface). The
   * director records it for a VM whose cloud did not tell its address (a dynamic network).
   */
  ip?: string;
}

export interface AgentAlert {
  agentId: string;
  severity: 1 | 2 | 3 | 4;
  category: 'container_flapping' | 'container_failing' | 'dockerd_failing' | 'disk_full' | 'agent';
  title: string;
  summary: string;
  container?: string;
  timestamp: string;
}

export interface AgentTaskInfo {
  id: string;
  state: 'running' | 'done' | 'failed' | 'cancelled';
  value?: unknown;
  error?: { code: string; message: string; details?: unknown };
  /** The latest progress report of a running task (e.g. MigrateDiskProgress for migrate_disk). */
  progress?: unknown;
}

export interface RunCommandResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface MountDiskRequest {
  diskCid: string;
  hint: DiskHint;
  /** Where to mount: the store (default) or a migration target used while copying to a new disk. */
  target?: 'store' | 'migration';
  /**
   * True only for a disk the director created and never saw mounted: the agent may then format it
   * when it has no filesystem. Absent or false: the disk may hold data and is never formatted; a
   * disk without a filesystem is refused untouched.
   */
  newDisk?: boolean;
}

export interface MigrateDiskProgress {
  phase: 'copy' | 'sync' | 'delta' | 'verify' | 'swap' | 'done';
  bytesCopied: number;
  filesCopied: number;
  /** What there is to copy as far as known (the store's used bytes and inodes for the bulk copy). */
  bytesTotal?: number;
  filesTotal?: number;
}

/**
 * `migrate_disk` (long action): copies the disk mounted at the store to the disk mounted at the
 * migration target. 'copy' is the bulk copy while the containers still run (refused when the data
 * does not fit); 'sync', still running, copies what changed and compares by content the files
 * changed since `copyStartedAtMs`; 'delta', after the containers stopped, copies what changed
 * (deletions included) and verifies the two trees, checksumming the files changed since
 * `copyStartedAtMs`. Times are the AGENT's clock: pass back the `startedAtMs` of the previous pass.
 */
export interface MigrateDiskRequest {
  /** 'swap' (containers stopped): unmounts `oldDiskCid` from the store and moves `newDiskCid` from the migration target to the store, in one call. */
  phase: 'copy' | 'sync' | 'delta' | 'swap';
  copyStartedAtMs?: number;
  oldDiskCid?: string;
  newDiskCid?: string;
}

export interface MigrateDiskResult {
  /** When this pass started (agent clock, with a little slack): the next pass's `copyStartedAtMs`. */
  startedAtMs?: number;
  bytesCopied: number;
  filesCopied: number;
  durationMs: number;
  /** 'delta' only: entries compared and files whose content was checksummed. */
  verifiedFiles?: number;
  checksummedFiles?: number;
}

/**
 * How a long action is called. Aborting `signal` cancels the agent's task (`cancel_task`): the call
 * rejects only once the task has stopped, so a caller that rolls back never races work still running.
 */
export interface LongActionOptions<P = unknown> {
  signal?: AbortSignal;
  /** Progress reports of the running task (over HTTP: the polled task's `progress`). */
  onProgress?: (progress: P) => void;
}

/**
 * What the director can ask an agent. The HTTP client (src/director/agent-client/) and the fake
 * cloud's in-process agents both implement it, so director code never knows which it talks to.
 * Long actions resolve when the agent's task finished.
 */
export interface AgentApi {
  ping(): Promise<'pong'>;
  getState(options?: { vitals?: boolean }): Promise<AgentState>;
  /** Ensures images and containers match the spec; starts them unless the instance is stopped. */
  apply(spec: InstanceSpec, options?: LongActionOptions): Promise<void>;
  start(options?: LongActionOptions): Promise<void>;
  /** Stops every container (dependents first) and keeps them stopped until `start`. */
  stop(options?: LongActionOptions): Promise<void>;
  drain(options?: LongActionOptions): Promise<void>;
  mountDisk(request: MountDiskRequest, options?: LongActionOptions): Promise<void>;
  unmountDisk(diskCid: string, options?: LongActionOptions): Promise<void>;
  listDisk(): Promise<string[]>;
  fetchLogs(container: string, lines?: number): Promise<string>;
  runCommand(command: string, timeoutMs?: number): Promise<RunCommandResult>;
  /**
   * Optional (disk resize by copy; src/agent/disks/migrate-action.ts). Agents without it cannot
   * resize by copy.
   */
  migrateDisk?(request: MigrateDiskRequest, options?: LongActionOptions<MigrateDiskProgress>): Promise<MigrateDiskResult>;
  /**
   * Service discovery: the record set the agent answers DNS from (`PUT /agent/v1/dns`). A delta
   * against another version rejects with DnsVersionMismatchError (`details.version`: the agent's).
   */
  updateDns(push: DnsPush): Promise<DnsPushResult>;
  /** The record set the agent answers from now (`GET /agent/v1/dns`); version 0 before any push. */
  getDns(): Promise<{ version: number; set: DnsRecordSet }>;
}
