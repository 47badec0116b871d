/**
 * The health monitor: keeps every agent's last heartbeat, and every `analyzeIntervalMs` compares
 * what the director wants (instances in the store) with what is (heartbeats, the cloud's VMs).
 * It raises alerts (de-duplicated while a condition lasts) and tells a listener — the
 * resurrector — which instances of which deployment are unhealthy. Deployments a task holds
 * locked are skipped, as BOSH does: a deploy in progress legitimately has VMs coming and going.
 */
import type { Cloud } from '../../cloud/cloud.js';
import type { AgentAlert, Heartbeat } from '../../common/contracts/agent-protocol.js';
import type { Logger } from '../../common/logger.js';
import { errorMessage } from '../../common/errors.js';
import { Severity, type AlertCenter, type AlertCategory } from './alerts.js';
import type { HealthConfig } from './config.js';
import {
  instanceName,
  type Clock,
  type HealthStore,
  type MonitoredInstance,
  type TaskRunnerPort,
} from './ports.js';

/** no_vm: the instance has no VM at all (a recreate or resurrection interrupted by a crash, cck delete_vm_reference). */
export type UnhealthyProblem = 'unresponsive_agent' | 'missing_vm' | 'no_vm';

export interface UnhealthyInstance {
  instance: MonitoredInstance;
  problem: UnhealthyProblem;
}

/** Told the outcome of each analysis of an unlocked deployment. */
export interface DeploymentHealthListener {
  onAnalysis(
    deployment: string,
    instances: readonly MonitoredInstance[],
    unhealthy: readonly UnhealthyInstance[],
  ): Promise<void>;
}

export interface HealthMonitorDeps {
  store: Pick<HealthStore, 'listInstances'>;
  cloud: Pick<Cloud, 'hasVm' | 'listVms'>;
  tasks: Pick<TaskRunnerPort, 'lockedDeployments'>;
  alerts: AlertCenter;
  config: HealthConfig;
  logger: Logger;
  clock?: Clock;
  listener?: DeploymentHealthListener;
}

export type MonitorState = 'stopped' | 'running' | 'stopping';

const HAS_VM_CONCURRENCY = 16;

/**
 * An instance that never had a VM with something applied to it: a deploy bound it but stopped
 * before creating it (a failed canary, a cancelled deploy). It is "not yet created", not missing.
 */
export function neverCreated(i: Pick<MonitoredInstance, 'vmCid' | 'spec'>): boolean {
  return i.vmCid === null && i.spec === null;
}

export class HealthMonitor {
  private readonly lastSeen = new Map<string, number>();
  private readonly heartbeats = new Map<string, Heartbeat>();
  private readonly unknownVmSince = new Map<string, number>();
  private readonly rogueSince = new Map<string, number>();
  private agentIndex = new Map<string, MonitoredInstance>();
  private indexRefreshedAt = -Infinity;
  private readonly clock: Clock;
  private timer: NodeJS.Timeout | null = null;
  private current: Promise<void> | null = null;
  private _state: MonitorState = 'stopped';
  listener: DeploymentHealthListener | undefined;

  constructor(private readonly deps: HealthMonitorDeps) {
    this.clock = deps.clock ?? Date.now;
    this.listener = deps.listener;
  }

  get state(): MonitorState {
    return this._state;
  }

  start(): void {
    if (this._state !== 'stopped') return;
    this._state = 'running';
    this.schedule();
  }

  /** Stops the loop and waits for an analysis in progress. */
  async stop(): Promise<void> {
    if (this._state === 'stopped') return;
    this._state = 'stopping';
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.current;
    this._state = 'stopped';
  }

  private schedule(): void {
    if (this._state !== 'running') return;
    this.timer = setTimeout(() => {
      this.current = this.analyze()
        .catch((err: unknown) => this.deps.logger.error(`health analysis failed: ${errorMessage(err)}`))
        .finally(() => {
          this.current = null;
          this.schedule();
        });
    }, this.deps.config.analyzeIntervalMs);
    this.timer.unref();
  }

  lastHeartbeat(agentId: string): Heartbeat | undefined {
    return this.heartbeats.get(agentId);
  }

  /** Seconds-precise "is this agent answering" as the monitor sees it. */
  isResponsive(agentId: string): boolean {
    const t = this.lastSeen.get(agentId);
    return (
      t !== undefined && this.clock() - t < this.deps.config.agentTimeoutMs && this.heartbeats.has(agentId)
    );
  }

  /** Forgets an agent (its VM was replaced), so it is not reported as rogue or unresponsive. */
  forgetAgent(agentId: string): void {
    this.lastSeen.delete(agentId);
    this.heartbeats.delete(agentId);
    this.rogueSince.delete(agentId);
    this.deps.alerts.clearPrefix(`hb:${agentId}:`);
  }

  async recordHeartbeat(hb: Heartbeat): Promise<void> {
    this.lastSeen.set(hb.agentId, this.clock());
    this.heartbeats.set(hb.agentId, hb);
    await this.refreshIndexFor(hb.agentId);
    const where = this.whereIs(hb.agentId, hb);
    const raises: Array<Promise<unknown>> = [];
    const seenKeys = new Set<string>();
    const cond = (
      key: string,
      category: AlertCategory,
      severity: 1 | 2 | 3 | 4,
      title: string,
      summary: string,
    ): void => {
      const k = `hb:${hb.agentId}:${key}`;
      seenKeys.add(k);
      raises.push(this.deps.alerts.raise({ severity, category, title, summary, ...where }, { key: k }));
    };
    for (const c of hb.containers) {
      if (c.flapping) {
        cond(
          `flapping:${c.name}`,
          'container_flapping',
          Severity.error,
          `Container ${c.name} is flapping`,
          `Container ${c.name} on ${where.instance ?? hb.vmCid} keeps dying and is being restarted with backoff (${c.restarts} restarts); see \`bosun logs\` for why.`,
        );
      }
      if (c.state === 'failed') {
        cond(
          `failing:${c.name}`,
          'container_failing',
          Severity.critical,
          `Container ${c.name} is failing`,
          `Container ${c.name} on ${where.instance ?? hb.vmCid} could not be created or started; see \`bosun instances --ps\` and \`bosun logs\` for the error.`,
        );
      }
    }
    for (const kind of ['persistent', 'ephemeral'] as const) {
      const usage = hb.vitals.disk[kind];
      if (usage && usage.percent > this.deps.config.diskFullPercent) {
        cond(
          `disk:${kind}`,
          'disk_full',
          Severity.error,
          `${kind[0]?.toUpperCase()}${kind.slice(1)} disk nearly full`,
          `The ${kind} disk of ${where.instance ?? hb.vmCid} is ${usage.percent}% full (threshold ${this.deps.config.diskFullPercent}%); ` +
            (kind === 'persistent'
              ? 'raise persistent_disk in the manifest and deploy, or delete data.'
              : 'remove unused images or data on the VM.'),
        );
      }
    }
    // Conditions this heartbeat no longer shows are over.
    for (const k of this.deps.alerts.activeKeys()) {
      if (k.startsWith(`hb:${hb.agentId}:`) && !k.startsWith(`hb:${hb.agentId}:agent:`) && !seenKeys.has(k))
        this.deps.alerts.clear(k);
    }
    await Promise.all(raises);
  }

  /** An alert the agent posted itself; repeated ones within `agentAlertRepeatMs` are dropped. */
  async recordAgentAlert(a: AgentAlert): Promise<void> {
    await this.refreshIndexFor(a.agentId);
    const where = this.whereIs(a.agentId, this.heartbeats.get(a.agentId));
    // Flapping/failing share their key with the heartbeat-derived condition, so they alert once.
    const key =
      a.category === 'container_flapping'
        ? `hb:${a.agentId}:flapping:${a.container ?? ''}`
        : a.category === 'container_failing'
          ? `hb:${a.agentId}:failing:${a.container ?? ''}`
          : `hb:${a.agentId}:agent:${a.category}:${a.container ?? ''}:${a.title}`;
    await this.deps.alerts.raise(
      {
        severity: a.severity,
        category: a.category,
        title: a.title,
        summary: a.container === undefined ? a.summary : `${a.summary} (container ${a.container})`,
        ...where,
      },
      { key, ttlMs: this.deps.config.agentAlertRepeatMs },
    );
  }

  /** An agent the last analysis did not know (a VM created since): re-read the instances, at most once per analysis interval. */
  private async refreshIndexFor(agentId: string): Promise<void> {
    const now = this.clock();
    if (this.agentIndex.has(agentId) || now - this.indexRefreshedAt < this.deps.config.analyzeIntervalMs)
      return;
    this.indexRefreshedAt = now;
    try {
      this.setIndex(await this.deps.store.listInstances());
    } catch (err) {
      this.deps.logger.warn(`could not read the instances: ${errorMessage(err)}`);
    }
  }

  private setIndex(instances: readonly MonitoredInstance[]): void {
    this.agentIndex = new Map(instances.filter((i) => i.agentId).map((i) => [i.agentId as string, i]));
  }

  private whereIs(agentId: string, hb?: Heartbeat): { deployment: string | null; instance: string | null } {
    const inst = this.agentIndex.get(agentId);
    if (inst) return { deployment: inst.deployment, instance: instanceName(inst) };
    if (hb?.group != null && hb.index != null)
      return { deployment: hb.deployment, instance: `${hb.group}/${hb.index}` };
    return { deployment: hb?.deployment ?? null, instance: null };
  }

  /** One analysis pass (the loop calls it; tests call it directly). */
  async analyze(): Promise<void> {
    const now = this.clock();
    const [instances, locked] = await Promise.all([
      this.deps.store.listInstances(),
      this.deps.tasks.lockedDeployments(),
    ]);
    this.setIndex(instances);
    this.indexRefreshedAt = now;

    const byDeployment = new Map<string, MonitoredInstance[]>();
    for (const i of instances) byDeployment.set(i.deployment, [...(byDeployment.get(i.deployment) ?? []), i]);

    for (const [deployment, list] of byDeployment) {
      if (locked.has(deployment)) continue;
      const unhealthy = await this.analyzeDeployment(list, now);
      if (this.listener) {
        try {
          await this.listener.onAnalysis(deployment, list, unhealthy);
        } catch (err) {
          this.deps.logger.error(`the resurrector failed for deployment ${deployment}: ${errorMessage(err)}`);
        }
      }
    }
    // Agents that belong to no instance and never heartbeated (their VM was replaced) are forgotten.
    for (const agentId of [...this.lastSeen.keys()])
      if (!this.agentIndex.has(agentId) && !this.heartbeats.has(agentId)) this.lastSeen.delete(agentId);
    await this.findRogueAgents(now);
    if (locked.size === 0) await this.findUnknownVms(instances, now);
  }

  private async analyzeDeployment(list: MonitoredInstance[], now: number): Promise<UnhealthyInstance[]> {
    const unhealthy: UnhealthyInstance[] = [];
    const withVm = list.filter((i) => i.vmCid !== null);
    const hasVm = new Map<string, boolean | null>();
    for (let k = 0; k < withVm.length; k += HAS_VM_CONCURRENCY) {
      await Promise.all(
        withVm.slice(k, k + HAS_VM_CONCURRENCY).map(async (i) => {
          try {
            hasVm.set(i.id, await this.deps.cloud.hasVm(i.vmCid as string));
          } catch (err) {
            // The cloud not answering says nothing about this VM; judge it by its heartbeats alone.
            this.deps.logger.warn(
              `could not ask the cloud whether VM ${i.vmCid} exists: ${errorMessage(err)}`,
            );
            hasVm.set(i.id, null);
          }
        }),
      );
    }
    for (const i of list) {
      const name = instanceName(i);
      const base = { deployment: i.deployment, instance: name };
      if (i.vmCid === null && neverCreated(i)) {
        // Not yet created (a deploy stopped before it, e.g. at a failed canary): nothing is lost,
        // nothing to alert on; the next deploy creates it.
        this.clearInstance(i.id, null);
        continue;
      }
      if (i.vmCid === null) {
        // Outside a task's lock no instance is meant to be without a VM (a stopped one keeps its
        // VM too): it is resurrected like a missing VM, its containers started only if desired.
        this.clearInstance(i.id, `no_vm:${i.id}`);
        unhealthy.push({ instance: i, problem: 'no_vm' });
        await this.deps.alerts.raise(
          {
            ...base,
            severity: Severity.error,
            category: 'instance_without_vm',
            title: 'Instance has no VM',
            summary: `${i.deployment} ${name} has no VM (an interrupted recreate or resurrection, or a deleted VM reference); with resurrection on it gets a new VM with its disks, otherwise run \`bosun -d ${i.deployment} recreate ${name}\` or deploy again.`,
          },
          { key: `no_vm:${i.id}` },
        );
        continue;
      }
      if (hasVm.get(i.id) === false) {
        // Keyed by VM: a replacement VM that goes missing too is a new condition, a new alert.
        const key = `missing_vm:${i.id}:${i.vmCid}`;
        this.clearInstance(i.id, key);
        unhealthy.push({ instance: i, problem: 'missing_vm' });
        await this.deps.alerts.raise(
          {
            ...base,
            severity: Severity.critical,
            category: 'vm_missing',
            title: 'VM missing',
            summary: `VM ${i.vmCid} of ${i.deployment} ${name} no longer exists in the cloud.`,
          },
          { key },
        );
        continue;
      }
      const agentId = i.agentId;
      if (agentId === null) continue;
      // An agent the monitor has not heard of yet (director just started, VM just created) gets a full timeout of grace.
      if (!this.lastSeen.has(agentId)) this.lastSeen.set(agentId, now);
      const silentMs = now - (this.lastSeen.get(agentId) ?? now);
      if (silentMs >= this.deps.config.agentTimeoutMs) {
        const key = `unresponsive:${i.id}:${agentId}`;
        this.clearInstance(i.id, key);
        unhealthy.push({ instance: i, problem: 'unresponsive_agent' });
        await this.deps.alerts.raise(
          {
            ...base,
            severity: Severity.critical,
            category: 'agent_unresponsive',
            title: 'Agent unresponsive',
            summary: `The agent ${agentId} on VM ${i.vmCid} (${i.deployment} ${name}) has not sent a heartbeat for ${Math.round(silentMs / 1000)} s (timeout ${Math.round(this.deps.config.agentTimeoutMs / 1000)} s).`,
          },
          { key },
        );
        continue;
      }
      this.clearInstance(i.id, null);
    }
    return unhealthy;
  }

  /** Clears an instance's VM-health conditions except the one keyed `keep`. */
  private clearInstance(instanceId: string, keep: string | null): void {
    for (const k of this.deps.alerts.activeKeys()) {
      if (k === keep) continue;
      if (
        k === `no_vm:${instanceId}` ||
        k.startsWith(`missing_vm:${instanceId}:`) ||
        k.startsWith(`unresponsive:${instanceId}:`)
      )
        this.deps.alerts.clear(k);
    }
  }

  private async findRogueAgents(now: number): Promise<void> {
    for (const [agentId, hb] of this.heartbeats) {
      const t = this.lastSeen.get(agentId) ?? 0;
      if (this.agentIndex.has(agentId) || now - t >= this.deps.config.agentTimeoutMs) {
        this.rogueSince.delete(agentId);
        // Forget long-silent agents nobody owns (old VMs that were replaced) so memory stays bounded.
        if (!this.agentIndex.has(agentId) && now - t >= 2 * this.deps.config.agentTimeoutMs)
          this.forgetAgent(agentId);
        continue;
      }
      const since = this.rogueSince.get(agentId) ?? now;
      this.rogueSince.set(agentId, since);
      if (now - since >= this.deps.config.rogueAlertMs) {
        await this.deps.alerts.raise(
          {
            severity: Severity.warning,
            category: 'rogue_agent',
            title: 'Unknown agent',
            summary: `Agent ${agentId} on VM ${hb.vmCid} sends heartbeats but belongs to no instance this director knows; delete that VM (\`bosun cck\` lists it) or find who created it.`,
            deployment: hb.deployment,
          },
          { key: `rogue:${agentId}` },
        );
      }
    }
  }

  private async findUnknownVms(instances: readonly MonitoredInstance[], now: number): Promise<void> {
    const listVms = this.deps.cloud.listVms?.bind(this.deps.cloud);
    if (!listVms) return;
    let cids: string[];
    try {
      cids = await listVms();
    } catch (err) {
      this.deps.logger.warn(`could not list the cloud's VMs: ${errorMessage(err)}`);
      return;
    }
    const owned = new Set(instances.map((i) => i.vmCid).filter((c): c is string => c !== null));
    const present = new Set(cids);
    for (const cid of [...this.unknownVmSince.keys()]) {
      if (!present.has(cid) || owned.has(cid)) {
        this.unknownVmSince.delete(cid);
        this.deps.alerts.clear(`unknown_vm:${cid}`);
      }
    }
    for (const cid of cids) {
      if (owned.has(cid)) continue;
      const since = this.unknownVmSince.get(cid) ?? now;
      this.unknownVmSince.set(cid, since);
      if (now - since >= this.deps.config.rogueAlertMs) {
        await this.deps.alerts.raise(
          {
            severity: Severity.warning,
            category: 'unknown_vm',
            title: 'Unknown VM',
            summary: `The cloud has VM ${cid} that no instance owns; \`bosun -d DEPLOYMENT cck\` can delete it.`,
          },
          { key: `unknown_vm:${cid}` },
        );
      }
    }
  }
}
