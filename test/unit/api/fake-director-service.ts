import { readFile } from 'node:fs/promises';
import { ConflictError, InvalidManifestError, NotFoundError } from '../../../src/common/errors.js';
import type { AgentAlert, Heartbeat } from '../../../src/common/contracts/agent-protocol.js';
import type { DirectorService } from '../../../src/director/director-service.js';
import type { DeploymentDns,
  Alert,
  AuditEvent,
  CckRequest,
  DeployRequest,
  DeploymentSummary,
  DiffResponse,
  DirectorInfo,
  DiskInfo,
  ImageInfo,
  StemcellInfo,
  CloudConfigDiffResponse,
  CloudConfigInfo,
  InstanceInfo,
  JobRequest,
  LockInfo,
  RunCommandResponse,
  TaskEvent,
  TaskInfo,
  TaskState,
  VmInfo,
} from '../../../src/common/contracts/api.js';

const T0 = '2026-01-01T00:00:00.000Z';

/** What a queued task will do as the client polls it: its events and how it ends. */
export interface TaskScript {
  final: TaskState;
  events: Array<Omit<TaskEvent, 'seq' | 'time'>>;
  result?: string | null;
  error?: string | null;
  /** How many getTask calls report `processing` before the final state. */
  pollsUntilDone?: number;
  /** Reveal one more event per getTask call (events arrive while the client polls). */
  gradual?: boolean;
}

/**
 * An in-memory DirectorService for the API and CLI tests: a `demo` deployment with two instances,
 * tasks that end the way `nextTask` scripts them, and every call recorded in `calls`.
 */
export class FakeDirectorService implements DirectorService {
  readonly calls: Array<{ method: string; args: unknown[] }> = [];
  readonly heartbeats: Heartbeat[] = [];
  readonly agentAlerts: AgentAlert[] = [];
  readonly uploadedImages: Array<{ bytes: number; name: string | undefined }> = [];
  /** Listed after the built-in alert (tests of table widths). */
  readonly extraAlerts: Alert[] = [];
  /** What fetchLogs returns when set (tests of the logs limit). */
  logsText: string | undefined;
  /** How long fetchLogs takes (tests of the request timeout: a slow answer is not a slow request). */
  logsDelayMs = 0;
  instanceState: InstanceInfo['state'] = 'running';
  nextTask: TaskScript = {
    final: 'done',
    events: [
      { stage: 'Updating instance', step: 'docker-vm-1/0 (canary)', index: 1, total: 2, state: 'started' },
      {
        stage: 'Updating instance',
        step: 'docker-vm-1/0 (canary)',
        index: 1,
        total: 2,
        state: 'finished',
        elapsedMs: 1200,
      },
      { stage: 'Updating instance', step: 'docker-vm-1/1', index: 2, total: 2, state: 'started' },
      {
        stage: 'Updating instance',
        step: 'docker-vm-1/1',
        index: 2,
        total: 2,
        state: 'finished',
        elapsedMs: 900,
      },
    ],
  };
  private readonly tasks = new Map<number, { info: TaskInfo; script: TaskScript; polls: number }>();
  private nextId = 1;

  private record(method: string, ...args: unknown[]): void {
    this.calls.push({ method, args });
  }

  private queue(description: string, deployment: string | null, user: string): TaskInfo {
    const id = this.nextId++;
    const info: TaskInfo = {
      id,
      state: 'queued',
      description,
      deployment,
      user,
      createdAt: T0,
      startedAt: null,
      endedAt: null,
      result: null,
      error: null,
    };
    this.tasks.set(id, { info, script: this.nextTask, polls: 0 });
    return { ...info };
  }

  private requireDeployment(name: string): void {
    if (name !== 'demo')
      throw new NotFoundError(
        `Deployment "${name}" does not exist; run \`bosun deployments\` to see the deployments.`,
      );
  }

  async info(): Promise<DirectorInfo> {
    return { name: 'bosun', uuid: 'uuid-1', version: '0.1.0', cloud: 'fake', registry: '10.244.0.1:25556' };
  }

  async diff(request: DeployRequest): Promise<DiffResponse> {
    this.record('diff', request);
    if (request.manifest.includes('invalid')) {
      throw new InvalidManifestError([
        {
          severity: 'error',
          path: 'instance_groups[0].instances',
          line: 3,
          column: 5,
          message: 'must be a number',
        },
      ]);
    }
    return {
      deployment: 'demo',
      changes: [{ subject: 'docker-vm-1/0', kind: 'create_vm', summary: 'create VM' }],
      text: request.showSecrets ? '+ env: {PASSWORD: hunter2}' : '+ env: {PASSWORD: <redacted>}',
      warnings: [],
    };
  }

  async deploy(request: DeployRequest, user: string): Promise<TaskInfo> {
    this.record('deploy', request, user);
    await this.diff(request);
    return this.queue('create deployment', 'demo', user);
  }

  async listDeployments(): Promise<DeploymentSummary[]> {
    return [{ name: 'demo', instances: 2, lastDeployedAt: T0, resurrection: true }];
  }

  async getDeployment(name: string): Promise<DeploymentSummary> {
    this.requireDeployment(name);
    return { name: 'demo', instances: 2, lastDeployedAt: T0, resurrection: true };
  }

  async getManifest(name: string): Promise<string> {
    this.requireDeployment(name);
    return 'name: demo\ninstance_groups: []\nproperties:\n  DB_PASSWORD: hunter2 # kept\n';
  }

  async deleteDeployment(name: string, user: string, options?: { force?: boolean }): Promise<TaskInfo> {
    this.record('deleteDeployment', name, user, options);
    this.requireDeployment(name);
    return this.queue('delete deployment demo', name, user);
  }

  /** The AZ of each instance, by index (null: the instances carry none). */
  instanceAzs: Array<string | null> | null = null;

  async listInstances(
    deployment: string,
    options?: { ps?: boolean; vitals?: boolean },
  ): Promise<InstanceInfo[]> {
    this.record('listInstances', deployment, options);
    this.requireDeployment(deployment);
    return [0, 1].map((index) => ({
      group: 'docker-vm-1',
      index,
      id: `id-${index}`,
      vmCid: `vm-${index}`,
      agentId: `agent-${index}`,
      ip: `10.244.0.${10 + index}`,
      state: this.instanceState,
      desired: 'started',
      diskCids: [`disk-${index}`],
      lastHeartbeatAt: T0,
      dnsNames: [`${index}.redis.docker-vm-1.${deployment}.bosun`, `${index}.web.docker-vm-1.${deployment}.bosun`],
      ...(this.instanceAzs === null ? {} : { az: this.instanceAzs[index] ?? null }),
      ...(options?.ps
        ? { containers: [{ name: 'redis', state: 'running', uptimeSeconds: 42, restarts: 0 }] }
        : {}),
      ...(options?.vitals ? { vitals: { load: [0.1, 0.2, 0.3], memPercent: 12 } } : {}),
    }));
  }

  async getDns(deployment: string): Promise<DeploymentDns> {
    this.record('getDns', deployment);
    this.requireDeployment(deployment);
    return {
      deployment,
      version: 7,
      instances: [{ group: 'web', index: 0, id: 'i-0', address: '10.244.0.2', running: true, containers: [{ name: 'nginx', healthy: true, names: [`0.nginx.web.${deployment}.bosun`, `nginx.web.${deployment}.bosun`], ports: [{ port: 80, protocol: 'tcp' }] }] }],
      records: [{ name: `nginx.web.${deployment}.bosun`, type: 'A', answers: ['10.244.0.2'] }],
      aliases: [],
      agents: { current: 1, total: 1 },
    };
  }

  async listVms(deployment: string): Promise<VmInfo[]> {
    this.requireDeployment(deployment);
    return [
      {
        vmCid: 'vm-0',
        ip: '10.244.0.10',
        agentId: 'agent-0',
        instance: 'docker-vm-1/0',
        state: 'running',
        createdAt: T0,
      },
    ];
  }

  async listDisks(options: { deployment?: string; orphaned?: boolean }): Promise<DiskInfo[]> {
    this.record('listDisks', options);
    const disks: DiskInfo[] = [
      {
        diskCid: 'disk-0',
        sizeMiB: 1024,
        deployment: 'demo',
        instance: 'docker-vm-1/0',
        state: 'active',
        createdAt: T0,
        orphanedAt: null,
      },
      {
        diskCid: 'disk-old',
        sizeMiB: 512,
        deployment: 'demo',
        instance: null,
        state: 'orphaned',
        createdAt: T0,
        orphanedAt: T0,
      },
    ];
    return options.orphaned ? disks.filter((d) => d.state === 'orphaned') : disks;
  }

  async deleteDisk(diskCid: string, user: string): Promise<TaskInfo> {
    this.record('deleteDisk', diskCid, user);
    if (diskCid === 'disk-0')
      throw new ConflictError(
        'Disk disk-0 is attached to docker-vm-1/0; only orphaned disks can be deleted.',
      );
    return this.queue(`delete disk ${diskCid}`, null, user);
  }

  async runJob(deployment: string, request: JobRequest, user: string): Promise<TaskInfo> {
    this.record('runJob', deployment, request, user);
    this.requireDeployment(deployment);
    return this.queue(`${request.action} instances`, deployment, user);
  }

  async fetchLogs(
    deployment: string,
    group: string,
    index: number,
    container: string | undefined,
    lines: number,
  ): Promise<string> {
    this.record('fetchLogs', deployment, group, index, container, lines);
    this.requireDeployment(deployment);
    if (this.logsDelayMs > 0) await new Promise((r) => setTimeout(r, this.logsDelayMs));
    return this.logsText ?? `log line from ${group}/${index} ${container ?? 'all'}\n`;
  }

  async runCommand(
    deployment: string,
    group: string,
    index: number,
    command: string,
    user: string,
  ): Promise<RunCommandResponse> {
    this.record('runCommand', deployment, group, index, command, user);
    this.requireDeployment(deployment);
    return { exitCode: command.includes('fail') ? 3 : 0, stdout: `out: ${command}\n`, stderr: 'err\n' };
  }

  async listTasks(options: { recent?: number; deployment?: string }): Promise<TaskInfo[]> {
    this.record('listTasks', options);
    return [...this.tasks.values()]
      .map((t) => ({ ...t.info }))
      .reverse()
      .slice(0, options.recent ?? 30);
  }

  async getTask(id: number): Promise<TaskInfo> {
    const task = this.tasks.get(id);
    if (!task) throw new NotFoundError(`Task ${id} does not exist.`);
    task.polls++;
    if (task.polls > (task.script.pollsUntilDone ?? 1) && task.info.endedAt === null) {
      task.info.state = task.script.final;
      task.info.endedAt = T0;
      task.info.result = task.script.result ?? (task.script.final === 'done' ? 'ok' : null);
      task.info.error = task.script.error ?? null;
    } else if (task.info.state === 'queued') {
      task.info.state = 'processing';
      task.info.startedAt = T0;
    }
    return { ...task.info };
  }

  async taskEvents(id: number, afterSeq?: number): Promise<TaskEvent[]> {
    const task = this.tasks.get(id);
    if (!task) throw new NotFoundError(`Task ${id} does not exist.`);
    const visible =
      task.script.gradual && task.info.endedAt === null ? task.polls : task.script.events.length;
    return task.script.events
      .slice(0, visible)
      .map((e, i) => ({ ...e, seq: i + 1, time: T0 }))
      .filter((e) => e.seq > (afterSeq ?? 0));
  }

  async cancelTask(id: number, user: string): Promise<TaskInfo> {
    this.record('cancelTask', id, user);
    const task = this.tasks.get(id);
    if (!task) throw new NotFoundError(`Task ${id} does not exist.`);
    task.info.state = 'cancelling';
    return { ...task.info };
  }

  async listEvents(options: { deployment?: string; limit?: number }): Promise<AuditEvent[]> {
    this.record('listEvents', options);
    return [
      {
        id: 1,
        time: T0,
        user: 'admin',
        action: 'create',
        objectType: 'deployment',
        objectName: 'demo',
        deployment: 'demo',
        instance: null,
        taskId: 1,
        error: null,
        context: {},
      },
    ];
  }

  async listAlerts(options: { deployment?: string; limit?: number }): Promise<Alert[]> {
    this.record('listAlerts', options);
    return [
      {
        id: 'a1',
        severity: 2,
        category: 'container_flapping',
        title: 'redis is flapping',
        summary: 'restarted 5 times',
        deployment: 'demo',
        instance: 'docker-vm-1/0',
        createdAt: T0,
      },
      ...this.extraAlerts,
    ];
  }

  async listLocks(): Promise<LockInfo[]> {
    return [{ name: 'lock:deployment:demo', taskId: 1, expiresAt: T0 }];
  }

  async setResurrection(enabled: boolean, deployment: string | undefined, user: string): Promise<void> {
    this.record('setResurrection', enabled, deployment, user);
  }

  async cloudCheck(deployment: string, request: CckRequest, user: string): Promise<TaskInfo> {
    this.record('cloudCheck', deployment, request, user);
    this.requireDeployment(deployment);
    return this.queue('scan and fix', deployment, user);
  }

  async listImages(): Promise<ImageInfo[]> {
    return [{ repository: 'library/redis', tags: ['7'] }];
  }

  async uploadImage(tarPath: string, name: string | undefined, user: string): Promise<TaskInfo> {
    this.record('uploadImage', tarPath, name, user);
    const bytes = (await readFile(tarPath)).length;
    this.uploadedImages.push({ bytes, name });
    return this.queue('upload image', null, user);
  }

  readonly stemcells: StemcellInfo[] = [];

  async listStemcells(): Promise<StemcellInfo[]> {
    return this.stemcells;
  }

  async uploadStemcell(tarPath: string, user: string): Promise<TaskInfo> {
    this.record('uploadStemcell', tarPath, user);
    return this.queue('upload stemcell', null, user);
  }

  async deleteStemcell(name: string, version: string, user: string): Promise<TaskInfo> {
    this.record('deleteStemcell', name, version, user);
    return this.queue(`delete stemcell ${name}/${version}`, null, user);
  }

  cloudConfig: CloudConfigInfo = { text: null, version: 0, createdAt: null, user: null };

  async getCloudConfig(): Promise<CloudConfigInfo> {
    return this.cloudConfig;
  }

  async diffCloudConfig(text: string): Promise<CloudConfigDiffResponse> {
    this.record('diffCloudConfig', text);
    if (text === this.cloudConfig.text) return { changes: [], text: '', warnings: [] };
    return { changes: [{ subject: 'azs/z1', kind: 'other', summary: 'added' }], text: '+ azs/z1', warnings: [] };
  }

  async updateCloudConfig(text: string, user: string): Promise<CloudConfigInfo> {
    this.record('updateCloudConfig', text, user);
    this.cloudConfig = { text, version: this.cloudConfig.version + 1, createdAt: new Date().toISOString(), user };
    return this.cloudConfig;
  }

  async recordHeartbeat(heartbeat: Heartbeat): Promise<void> {
    this.heartbeats.push(heartbeat);
  }

  async recordAgentAlert(alert: AgentAlert): Promise<void> {
    this.agentAlerts.push(alert);
  }
}
