/**
 * What the director does, independent of HTTP. The REST routes (src/director/api/) are thin
 * adapters over this interface; tests drive it directly with the fake cloud and fake agents.
 * `user` is the name behind the API token (for tasks and audit events).
 */
import type {
  Alert,
  AuditEvent,
  CckRequest,
  CloudConfigDiffResponse,
  CloudConfigInfo,
  DeployRequest,
  DeploymentSummary,
  DiffResponse,
  DirectorInfo,
  DiskInfo,
  DeploymentDns,
  ImageInfo,
  StemcellInfo,
  InstanceInfo,
  JobRequest,
  LockInfo,
  RunCommandResponse,
  TaskEvent,
  TaskInfo,
  VmInfo,
} from '../common/contracts/api.js';
import type { Heartbeat, AgentAlert } from '../common/contracts/agent-protocol.js';

export interface DirectorService {
  info(): Promise<DirectorInfo>;

  diff(request: DeployRequest): Promise<DiffResponse>;
  /** Validates and diffs at once (errors before any task exists), then queues a deploy task. */
  deploy(request: DeployRequest, user: string): Promise<TaskInfo>;
  listDeployments(): Promise<DeploymentSummary[]>;
  getDeployment(name: string): Promise<DeploymentSummary>;
  getManifest(name: string): Promise<string>;
  deleteDeployment(name: string, user: string, options?: { force?: boolean }): Promise<TaskInfo>;

  listInstances(deployment: string, options?: { ps?: boolean; vitals?: boolean }): Promise<InstanceInfo[]>;
  listVms(deployment: string): Promise<VmInfo[]>;
  /** Service discovery's records of the deployment as the director has them. */
  getDns(deployment: string): Promise<DeploymentDns>;
  listDisks(options: { deployment?: string; orphaned?: boolean }): Promise<DiskInfo[]>;
  deleteDisk(diskCid: string, user: string): Promise<TaskInfo>;
  runJob(deployment: string, request: JobRequest, user: string): Promise<TaskInfo>;
  fetchLogs(deployment: string, group: string, index: number, container: string | undefined, lines: number): Promise<string>;
  runCommand(deployment: string, group: string, index: number, command: string, user: string): Promise<RunCommandResponse>;

  listTasks(options: { recent?: number; deployment?: string }): Promise<TaskInfo[]>;
  getTask(id: number): Promise<TaskInfo>;
  taskEvents(id: number, afterSeq?: number): Promise<TaskEvent[]>;
  cancelTask(id: number, user: string): Promise<TaskInfo>;

  listEvents(options: { deployment?: string; limit?: number }): Promise<AuditEvent[]>;
  listAlerts(options: { deployment?: string; limit?: number }): Promise<Alert[]>;
  listLocks(): Promise<LockInfo[]>;
  setResurrection(enabled: boolean, deployment: string | undefined, user: string): Promise<void>;
  cloudCheck(deployment: string, request: CckRequest, user: string): Promise<TaskInfo>;

  listImages(): Promise<ImageInfo[]>;
  /** Pushes a `docker save`/OCI tarball (already saved to a file) into the registry as a task. */
  uploadImage(tarPath: string, name: string | undefined, user: string): Promise<TaskInfo>;

  listStemcells(): Promise<StemcellInfo[]>;
  /** Uploads a stemcell tarball (already saved to a file, which the task then owns) as a task; idempotent by name/version. */
  uploadStemcell(tarPath: string, user: string): Promise<TaskInfo>;
  /** Refused with a ConflictError listing the VMs while any VM boots the stemcell. */
  deleteStemcell(name: string, version: string, user: string): Promise<TaskInfo>;

  /** BOSH's cloud config: the current one, what an update changes (validated), the update itself. */
  getCloudConfig(): Promise<CloudConfigInfo>;
  diffCloudConfig(text: string): Promise<CloudConfigDiffResponse>;
  updateCloudConfig(text: string, user: string): Promise<CloudConfigInfo>;

  /** Called by the agents' heartbeat and alert routes (mTLS-authenticated by agent id). */
  recordHeartbeat(heartbeat: Heartbeat): Promise<void>;
  recordAgentAlert(alert: AgentAlert): Promise<void>;
}
