/**
 * In-memory ports for the health monitor, resurrector and cloud-check unit tests, plus a tiny
 * "deploy" onto the FakeCloud that puts instances with VMs and disks in place.
 */
import { randomUUID } from 'node:crypto';
import type { Alert } from '../../../../src/common/contracts/api.js';
import type { CreateVmRequest } from '../../../../src/cloud/cloud.js';
import type { DiskHint } from '../../../../src/common/contracts/disk-hint.js';
import { FakeCloud } from '../../../../src/cloud/fake/index.js';
import type { InstanceSpec } from '../../../../src/common/contracts/instance-spec.js';
import type {
  AlertStore,
  HealthStore,
  MeltdownStore,
  MonitoredDisk,
  MonitoredInstance,
  TaskHandle,
  TaskRunnerPort,
  TaskStep,
} from '../../../../src/director/health/ports.js';
import { silentLogger } from '../../../../src/common/logger.js';
import { AlertCenter } from '../../../../src/director/health/alerts.js';
import {
  DEFAULT_HEALTH,
  DEFAULT_RESURRECTOR,
  type HealthConfig,
  type ResurrectorConfig,
} from '../../../../src/director/health/config.js';
import { HealthMonitor } from '../../../../src/director/health/health-monitor.js';
import { ResponderDispatcher } from '../../../../src/director/health/responders/dispatcher.js';
import type { Responder } from '../../../../src/director/health/responders/responder.js';
import { VmReplacer } from '../../../../src/director/resurrector/instance-recreator.js';
import { Resurrector } from '../../../../src/director/resurrector/resurrector.js';
import { CloudCheck } from '../../../../src/director/cloud-check/cloud-check.js';
import { DEFAULT_DOCKER_SPEC } from '../../../../src/agent/docker-daemon/dockerd-args.js';

export class MemoryStore implements HealthStore, AlertStore, MeltdownStore {
  /** The persisted meltdown stops (what a restarted director would read). */
  meltdowns: Record<string, string> = {};
  async loadMeltdowns(): Promise<Record<string, string>> {
    return { ...this.meltdowns };
  }
  async saveMeltdowns(m: Record<string, string>): Promise<void> {
    this.meltdowns = { ...m };
  }

  readonly instances = new Map<string, MonitoredInstance>();
  readonly alerts: Alert[] = [];
  global = true;
  readonly deployments: Record<string, boolean | null> = {};

  async listInstances(deployment?: string): Promise<MonitoredInstance[]> {
    return [...this.instances.values()]
      .filter((i) => deployment === undefined || i.deployment === deployment)
      .map((i) => structuredClone(i));
  }
  async setInstanceVm(
    id: string,
    vm: { vmCid: string; agentId: string; ip: string | null } | null,
  ): Promise<void> {
    const i = this.require(id);
    i.vmCid = vm?.vmCid ?? null;
    i.agentId = vm?.agentId ?? null;
    i.ip = vm?.ip ?? null;
  }
  async learnIp(id: string, vmCid: string, ip: string): Promise<void> {
    const i = this.require(id);
    if (i.vmCid === vmCid && i.ip === null) i.ip = ip;
  }
  async setDiskHint(diskCid: string, hint: DiskHint | null): Promise<void> {
    for (const i of this.instances.values())
      for (const d of i.disks) if (d.diskCid === diskCid) d.hint = hint;
  }
  async deleteDiskRecord(diskCid: string): Promise<void> {
    for (const i of this.instances.values()) i.disks = i.disks.filter((d) => d.diskCid !== diskCid);
    this.orphans.splice(0, this.orphans.length, ...this.orphans.filter((d) => d.diskCid !== diskCid));
  }
  readonly orphans: MonitoredDisk[] = [];
  async activateDisk(diskCid: string, instanceId: string): Promise<void> {
    for (const i of this.instances.values())
      for (const d of i.disks) if (d.diskCid === diskCid) d.active = true;
    const k = this.orphans.findIndex((d) => d.diskCid === diskCid);
    const [orphan] = k >= 0 ? this.orphans.splice(k, 1) : [];
    if (orphan) this.require(instanceId).disks.push({ ...orphan, active: true });
  }
  async orphanedDisks(): Promise<MonitoredDisk[]> {
    return structuredClone(this.orphans);
  }
  async resurrectionSettings(): Promise<{ global: boolean; deployments: Record<string, boolean | null> }> {
    return { global: this.global, deployments: { ...this.deployments } };
  }
  async saveAlert(alert: Alert): Promise<void> {
    this.alerts.push(alert);
  }
  async listAlerts(o: { deployment?: string; limit?: number }): Promise<Alert[]> {
    return this.alerts
      .filter((a) => !o.deployment || a.deployment === o.deployment)
      .reverse()
      .slice(0, o.limit ?? 100);
  }
  byName(name: string): MonitoredInstance {
    const i = [...this.instances.values()].find((x) => `${x.group}/${x.index}` === name);
    if (!i) throw new Error(`no instance ${name}`);
    return i;
  }
  private require(id: string): MonitoredInstance {
    const i = this.instances.get(id);
    if (!i) throw new Error(`no instance ${id}`);
    return i;
  }
}

export interface RecordedTask {
  id: number;
  deployment: string;
  description: string;
  user: string;
  state: 'queued' | 'processing' | 'done' | 'error';
  result: unknown;
  error: string | null;
  steps: TaskStep[];
}

/** Runs tasks one at a time per deployment, holding a lock while the body runs. */
export class MemoryTaskRunner implements TaskRunnerPort {
  readonly locked = new Set<string>();
  readonly tasks: RecordedTask[] = [];
  private readonly chains = new Map<string, Promise<void>>();

  async lockedDeployments(): Promise<Set<string>> {
    return new Set(this.locked);
  }

  async submit(
    options: { deployment: string; description: string; user: string },
    body: (log: (step: TaskStep) => void) => Promise<unknown>,
  ): Promise<TaskHandle> {
    const task: RecordedTask = {
      id: this.tasks.length + 1,
      ...options,
      state: 'queued',
      result: null,
      error: null,
      steps: [],
    };
    this.tasks.push(task);
    const prev = this.chains.get(options.deployment) ?? Promise.resolve();
    const done = prev.then(async () => {
      this.locked.add(options.deployment);
      task.state = 'processing';
      try {
        task.result = await body((s) => task.steps.push(s));
        task.state = 'done';
      } catch (err) {
        task.state = 'error';
        task.error = err instanceof Error ? err.message : String(err);
      } finally {
        this.locked.delete(options.deployment);
      }
    });
    this.chains.set(options.deployment, done);
    return { id: task.id, done };
  }
}

/** The rig's createVm requests (the director builds them with deploy/vm-steps.ts buildCreateVmRequest). */
export const vmRequests = {
  async build(instance: Pick<MonitoredInstance, 'id'>, agentId = `agent-${randomUUID()}`): Promise<CreateVmRequest> {
    return {
      agentId,
      stemcell: 'fake',
      cloudProperties: {},
      networks: { default: { ip: '', netmask: '' } },
      diskCids: [],
      env: {
        directorUrl: 'https://127.0.0.1:1',
        caPem: '',
        certPem: '',
        keyPem: '',
        heartbeatIntervalMs: 50,
        extra: { instance: instance.id },
      },
    };
  },
};

export function specFor(deployment: string, group: string, index: number, instanceId: string): InstanceSpec {
  return {
    deployment,
    group,
    index,
    instanceId,
    persistentDiskMiB: 1024,
    docker: { ...DEFAULT_DOCKER_SPEC },
    containers: [
      {
        name: 'redis',
        image: 'redis:7',
        dependsOn: [],
        mounts: [],
        create: { HostConfig: {} },
        specHash: 'a'.repeat(64),
      },
    ],
    specHash: 'b'.repeat(64),
  };
}

/** Puts `count` instances of one group on fake VMs, each with `disks` attached and mounted disks. */
export async function deployFake(
  cloud: FakeCloud,
  store: MemoryStore,
  options: { deployment?: string; group?: string; count: number; disks?: number },
): Promise<MonitoredInstance[]> {
  const deployment = options.deployment ?? 'demo';
  const group = options.group ?? 'db';
  const out: MonitoredInstance[] = [];
  for (let index = 0; index < options.count; index++) {
    const id = randomUUID();
    const inst: MonitoredInstance = {
      id,
      deployment,
      group,
      index,
      desired: 'started',
      vmCid: null,
      agentId: null,
      ip: null,
      disks: [],
      spec: specFor(deployment, group, index, id),
    };
    for (let k = 0; k < (options.disks ?? 1); k++) {
      inst.disks.push({ diskCid: await cloud.createDisk(1024, {}), sizeMiB: 1024, active: true, hint: null });
    }
    const req = await vmRequests.build(inst);
    const vm = await cloud.createVm(req);
    inst.vmCid = vm.vmCid;
    inst.agentId = req.agentId;
    inst.ip = vm.networks.default?.ip ?? null;
    const agent = cloud.agentConnector.connect({ agentId: req.agentId, vmCid: vm.vmCid, ip: inst.ip });
    for (const d of inst.disks) {
      d.hint = await cloud.attachDisk(vm.vmCid, d.diskCid);
      await agent.mountDisk({ diskCid: d.diskCid, hint: d.hint });
    }
    if (inst.spec) await agent.apply(inst.spec);
    await agent.start();
    store.instances.set(id, inst);
    out.push(structuredClone(inst));
  }
  return out;
}

export async function waitFor(
  cond: () => boolean | Promise<boolean>,
  timeoutMs = 5000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

// ---- the assembled health parts on a FakeCloud ---------------------------------------------------

export interface HealthRig {
  cloud: FakeCloud;
  store: MemoryStore;
  tasks: MemoryTaskRunner;
  alerts: AlertCenter;
  dispatcher: ResponderDispatcher;
  monitor: HealthMonitor;
  resurrector: Resurrector;
  cck: CloudCheck;
  close(): Promise<void>;
}

export function buildRig(
  options: {
    health?: Partial<HealthConfig>;
    resurrector?: Partial<ResurrectorConfig>;
    responders?: Responder[];
    /** The resurrector's clock (backoff tests); the monitor keeps real time. */
    resurrectorClock?: () => number;
  } = {},
): HealthRig {
  const health: HealthConfig = {
    ...DEFAULT_HEALTH,
    heartbeatIntervalMs: 20,
    heartbeatTimeoutMs: 200,
    analyzeIntervalMs: 20,
    rogueAlertMs: 100,
    ...options.health,
  };
  const resurrectorConfig: ResurrectorConfig = {
    ...DEFAULT_RESURRECTOR,
    vmDeleteTimeoutMs: 2000,
    agentWaitTimeoutMs: 2000,
    watchTimeoutMs: 1000,
    retryIntervalMs: 60_000,
    ...options.resurrector,
  };
  const ref: { monitor?: HealthMonitor } = {};
  const cloud = new FakeCloud({
    heartbeatIntervalMs: health.heartbeatIntervalMs,
    unresponsiveTimeoutMs: 100,
    onHeartbeat: (hb) => void ref.monitor?.recordHeartbeat(hb),
  });
  const store = new MemoryStore();
  const tasks = new MemoryTaskRunner();
  const dispatcher = new ResponderDispatcher(options.responders ?? [], silentLogger, {
    deliveryTimeoutMs: 2000,
    maxInFlight: 10,
  });
  const alerts = new AlertCenter(store, dispatcher, silentLogger);
  const recreator = new VmReplacer({
    ports: {
      cloud,
      agents: cloud.agentConnector,
      records: store,
      logger: silentLogger,
      directorName: 'test',
      newVmRequest: (owner, agentId) => vmRequests.build(owner, agentId),
      timeouts: {
        agentCallTimeoutMs: 10_000,
        applyTimeoutMs: 60_000,
        agentWaitTimeoutMs: resurrectorConfig.agentWaitTimeoutMs,
        agentPingIntervalMs: 10,
        vmDeleteTimeoutMs: resurrectorConfig.vmDeleteTimeoutMs,
        pollIntervalMs: 10,
      },
    },
    converge: { applyTimeoutMs: 60_000, agentCallTimeoutMs: 10_000, watchPollIntervalMs: 10 },
    watchTimeoutMs: resurrectorConfig.watchTimeoutMs,
  });
  const resurrector = new Resurrector({
    store,
    tasks,
    recreator,
    alerts,
    config: resurrectorConfig,
    logger: silentLogger,
    ...(options.resurrectorClock ? { clock: options.resurrectorClock } : {}),
    meltdowns: store,
    stillUnhealthy: async (u) =>
      u.problem === 'missing_vm'
        ? !(await cloud.hasVm(u.instance.vmCid ?? ''))
        : !ref.monitor?.isResponsive(u.instance.agentId ?? ''),
    onRecreated: (before) => before.agentId && ref.monitor?.forgetAgent(before.agentId),
  });
  const monitor = new HealthMonitor({
    store,
    cloud,
    tasks,
    alerts,
    config: health,
    logger: silentLogger,
    listener: resurrector,
  });
  const cck = new CloudCheck({
    store,
    cloud,
    agents: cloud.agentConnector,
    tasks,
    recreator,
    logger: silentLogger,
    agentCallTimeoutMs: 300,
    timeouts: resurrectorConfig,
    pollIntervalMs: 10,
    onResolved: (d) => resurrector.operatorReset(d),
  });
  ref.monitor = monitor;
  const m = monitor;
  return {
    cloud,
    store,
    tasks,
    alerts,
    dispatcher,
    monitor: m,
    resurrector,
    cck,
    async close() {
      await m.stop();
      await resurrector.idle();
      await dispatcher.drain();
      cloud.shutdown();
    },
  };
}

export function alertsOf(store: MemoryStore, category: string): Alert[] {
  return store.alerts.filter((a) => a.category === category);
}
