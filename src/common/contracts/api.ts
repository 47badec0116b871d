/**
 * The director's REST API as the CLI sees it: routes (below) and the JSON shapes they exchange.
 * Every route but /healthz and /metrics needs `Authorization: Bearer <token>`; errors use the one
 * shape of src/common/errors.ts.
 *
 *   GET    /healthz                                   → { ok: true }
 *   GET    /metrics                                   → Prometheus text
 *   GET    /openapi.json                              → OpenAPI 3 description
 *   GET    /api/v1/info                               → DirectorInfo
 *   GET    /api/v1/deployments                        → DeploymentSummary[]
 *   POST   /api/v1/deployments/diff                   DeployRequest → DiffResponse (changes nothing)
 *   POST   /api/v1/deployments                        DeployRequest → TaskRef (dryRun: DiffResponse, no task)
 *   GET    /api/v1/deployments/:name                  → DeploymentSummary
 *   GET    /api/v1/deployments/:name/manifest         → { manifest: string } (last successfully deployed)
 *   DELETE /api/v1/deployments/:name                  → TaskRef
 *   GET    /api/v1/deployments/:name/instances?ps=1&vitals=1 → InstanceInfo[]
 *   GET    /api/v1/deployments/:name/vms              → VmInfo[]
 *   GET    /api/v1/deployments/:name/dns              → DeploymentDns (service discovery's records)
 *   GET    /api/v1/deployments/:name/disks            → DiskInfo[]
 *   POST   /api/v1/deployments/:name/jobs             JobRequest → TaskRef (start|stop|restart|recreate)
 *   GET    /api/v1/deployments/:name/instances/:group/:index/logs?container=&lines=  → { logs: string }
 *   POST   /api/v1/deployments/:name/instances/:group/:index/ssh  { command } → RunCommandResult
 *   GET    /api/v1/disks?orphaned=1                   → DiskInfo[]
 *   DELETE /api/v1/disks/:cid                         → TaskRef (orphaned disks only)
 *   GET    /api/v1/tasks?recent=N&deployment=         → TaskInfo[] (newest first)
 *   GET    /api/v1/tasks/:id                          → TaskInfo
 *   GET    /api/v1/tasks/:id/events?after=SEQ         → TaskEvent[]
 *   POST   /api/v1/tasks/:id/cancel                   → TaskInfo
 *   GET    /api/v1/events?deployment=&limit=          → AuditEvent[] (newest first)
 *   GET    /api/v1/alerts?deployment=&limit=          → Alert[] (newest first)
 *   GET    /api/v1/locks                              → LockInfo[]
 *   PUT    /api/v1/resurrection                       { enabled, deployment? } → { enabled, deployment? }
 *   POST   /api/v1/deployments/:name/cck              CckRequest → TaskRef (result: CckResult)
 *   GET    /api/v1/images                             → ImageInfo[]
 *   POST   /api/v1/images?name=NAME:TAG               body: the tarball (application/x-tar) → TaskRef
 */
export interface DirectorInfo {
  name: string;
  uuid: string;
  version: string;
  cloud: string;
  registry: string | null;
}

export interface DeployRequest {
  /** The manifest as YAML text (line numbers in errors refer to it). */
  manifest: string;
  dryRun?: boolean;
  recreate?: boolean;
  /** Show secret-looking values in the diff instead of redacting them. */
  showSecrets?: boolean;
}

export interface DiffChange {
  /** e.g. "docker-vm-1/0" or "docker-vm-1" or the deployment itself. */
  subject: string;
  kind: 'create_vm' | 'delete_vm' | 'add_container' | 'remove_container' | 'change_container' | 'disk_size' | 'update' | 'stemcell' | 'cloud_config' | 'other';
  summary: string;
  keys?: string[];
}

export interface DiffResponse {
  deployment: string;
  changes: DiffChange[];
  /** Human-readable diff, already redacted unless showSecrets. */
  text: string;
  warnings: string[];
}

/**
 * BOSH's cloud config (GET /api/v1/cloud_config → CloudConfigInfo; POST /api/v1/cloud_config/diff
 * {text} → CloudConfigDiffResponse; POST /api/v1/cloud_config {text} → CloudConfigInfo).
 */
export interface CloudConfigInfo {
  /** The YAML text as uploaded; null: none was ever uploaded. */
  text: string | null;
  /** 1, 2, … per upload; 0: none. */
  version: number;
  createdAt: string | null;
  user: string | null;
}

export interface CloudConfigRequest {
  text: string;
}

export interface CloudConfigDiffResponse {
  changes: DiffChange[];
  text: string;
  warnings: string[];
}

export interface TaskRef {
  task: TaskInfo;
}

export type TaskState = 'queued' | 'processing' | 'done' | 'error' | 'cancelling' | 'cancelled';

export interface TaskInfo {
  id: number;
  state: TaskState;
  description: string;
  deployment: string | null;
  user: string;
  createdAt: string;
  startedAt: string | null;
  endedAt: string | null;
  result: string | null;
  error: string | null;
}

export interface TaskEvent {
  seq: number;
  time: string;
  stage: string;
  /** The step within the stage, e.g. "docker-vm-1/0 (canary)". */
  step: string;
  index: number;
  total: number;
  state: 'started' | 'in_progress' | 'finished' | 'failed';
  progress?: number;
  data?: Record<string, unknown>;
  error?: string;
  elapsedMs?: number;
}

export interface DeploymentSummary {
  name: string;
  instances: number;
  lastDeployedAt: string | null;
  resurrection: boolean;
}

export interface ContainerInfo {
  name: string;
  state: string;
  uptimeSeconds: number;
  restarts: number;
  flapping?: boolean;
}

export interface InstanceInfo {
  group: string;
  index: number;
  id: string;
  vmCid: string | null;
  agentId: string | null;
  ip: string | null;
  /** The AZ of the cloud config the instance is placed in (null: its group names no azs). */
  az?: string | null;
  state: 'running' | 'failing' | 'starting' | 'stopped' | 'unknown' | 'unresponsive' | 'missing' | 'not_created';
  desired: 'started' | 'stopped';
  diskCids: string[];
  lastHeartbeatAt: string | null;
  /** The per-instance DNS names, one per container (`<index>.<container>.<group>.<deployment>.bosun`). */
  dnsNames?: string[];
  containers?: ContainerInfo[];
  vitals?: Record<string, unknown>;
}

export interface VmInfo {
  vmCid: string;
  ip: string | null;
  agentId: string;
  instance: string;
  state: string;
  createdAt: string;
}

export interface DiskInfo {
  diskCid: string;
  sizeMiB: number;
  deployment: string | null;
  instance: string | null;
  state: 'active' | 'orphaned';
  createdAt: string;
  orphanedAt: string | null;
}

export interface JobRequest {
  action: 'start' | 'stop' | 'restart' | 'recreate';
  group?: string;
  index?: number;
}

export interface AuditEvent {
  id: number;
  time: string;
  user: string;
  action: string;
  objectType: string;
  objectName: string;
  deployment: string | null;
  instance: string | null;
  taskId: number | null;
  error: string | null;
  context: Record<string, unknown>;
}

export interface Alert {
  id: string;
  severity: 1 | 2 | 3 | 4;
  category: string;
  title: string;
  summary: string;
  deployment: string | null;
  instance: string | null;
  createdAt: string;
}

export interface LockInfo {
  name: string;
  taskId: number;
  expiresAt: string;
}

export interface CckRequest {
  /** Only scan and report (no changes). */
  report?: boolean;
  /** Apply the default resolution to every problem. */
  auto?: boolean;
  /** Explicit resolutions by problem type, e.g. { missing_vm: "recreate_vm" }. */
  resolutions?: Record<string, string>;
}

export interface CckProblem {
  id: number;
  type: 'unresponsive_agent' | 'missing_vm' | 'missing_disk' | 'inactive_disk' | 'mount_info_mismatch' | 'unknown_vm';
  description: string;
  instance: string | null;
  resolutions: Array<{ name: string; description: string }>;
  defaultResolution: string;
  appliedResolution?: string;
}

export interface CckResult {
  problems: CckProblem[];
}

export interface ImageInfo {
  repository: string;
  tags: string[];
}

export interface RunCommandResponse {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/**
 * Stemcells (GET /api/v1/stemcells → StemcellInfo[]; POST /api/v1/stemcells body: the .tgz →
 * TaskRef; DELETE /api/v1/stemcells/:name/:version → TaskRef).
 */
export interface StemcellInfo {
  name: string;
  version: string;
  operatingSystem: string;
  apiVersion: number;
  formats: string[];
  cid: string;
  sha1: string;
  uploadedAt: string;
  /** VM cids created from this stemcell that still exist in the director's records. */
  vms: string[];
}

/**
 * Service discovery as the director has it (GET /api/v1/deployments/:name/dns → DeploymentDns):
 * the version it pushes, each instance's names, address and health, the names with what they
 * answer, and the deployment's aliases.
 */
export interface DeploymentDns {
  deployment: string;
  version: number;
  instances: Array<{
    group: string;
    index: number;
    id: string;
    address: string | null;
    running: boolean;
    containers: Array<{ name: string; healthy: boolean; names: string[]; ports: Array<{ port: number; protocol: 'tcp' | 'udp' }> }>;
  }>;
  /** Each name with the addresses it answers now (A) or the SRV targets; empty: answered with no records. */
  records: Array<{ name: string; type: 'A' | 'SRV'; answers: string[] }>;
  aliases: Array<{ name: string; target: string }>;
  /** How many agents acknowledged the current version, of how many VMs. */
  agents: { current: number; total: number };
}
