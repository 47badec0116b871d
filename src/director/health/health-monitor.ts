/**
 * The health monitor: takes the agents' heartbeats, and every `analyzeIntervalMs` compares what
 * the director wants (instances in the store) with what is (heartbeats, the cloud's VMs). It only
 * raises alerts (de-duplicated while a condition lasts) and reports, to a listener, which
 * instances of which deployment are unhealthy; acting on that is the resurrector's job.
 * Deployments a task holds locked are skipped, as BOSH does: a deploy in progress legitimately
 * has VMs coming and going. The parts: agent-registry.ts (what it knows of each agent),
 * heartbeat-alerts.ts, vm-health.ts (one deployment's instances), strays.ts (rogue agents, unknown VMs).
 */
import type { Cloud } from '../../cloud/cloud.js';
import type { AgentAlert, Heartbeat } from '../../common/contracts/agent-protocol.js';
import type { Logger } from '../../common/logger.js';
import { errorMessage } from '../../common/errors.js';
import { AgentRegistry } from './agent-registry.js';
import type { AlertCenter } from './alerts.js';
import type { HealthConfig } from './config.js';
import { raiseAgentAlert, raiseHeartbeatConditions } from './heartbeat-alerts.js';
import type { Clock, HealthStore, MonitoredInstance, TaskRunnerPort } from './ports.js';
import { StrayFinder } from './strays.js';
import { analyzeDeployment, type UnhealthyInstance } from './vm-health.js';

export { neverCreated, type UnhealthyInstance, type UnhealthyProblem } from './vm-health.js';

/** Told the outcome of each analysis of an unlocked deployment. */
export interface DeploymentHealthListener {
  onAnalysis(deployment: string, instances: readonly MonitoredInstance[], unhealthy: readonly UnhealthyInstance[]): Promise<void>;
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

export class HealthMonitor {
  private readonly agents = new AgentRegistry();
  private readonly strays: StrayFinder;
  private indexRefreshedAt = -Infinity;
  private readonly clock: Clock;
  private timer: NodeJS.Timeout | null = null;
  private current: Promise<void> | null = null;
  private _state: MonitorState = 'stopped';
  listener: DeploymentHealthListener | undefined;

  constructor(private readonly deps: HealthMonitorDeps) {
    this.clock = deps.clock ?? Date.now;
    this.listener = deps.listener;
    this.strays = new StrayFinder({
      cloud: deps.cloud,
      alerts: deps.alerts,
      agents: this.agents,
      config: deps.config,
      logger: deps.logger,
      forgetAgent: (id) => this.forgetAgent(id),
    });
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
    return this.agents.lastHeartbeat(agentId);
  }

  /** "Is this agent answering" as the monitor sees it: a heartbeat within the heartbeat timeout. */
  isResponsive(agentId: string): boolean {
    return this.agents.isResponsive(agentId, this.clock(), this.deps.config.heartbeatTimeoutMs);
  }

  /** Forgets an agent (its VM was replaced), so it is not reported as rogue or unresponsive. */
  forgetAgent(agentId: string): void {
    this.agents.forget(agentId);
    this.strays.forget(agentId);
    this.deps.alerts.clearPrefix(`hb:${agentId}:`);
  }

  async recordHeartbeat(hb: Heartbeat): Promise<void> {
    this.agents.heartbeat(hb, this.clock());
    await this.refreshIndexFor(hb.agentId);
    await raiseHeartbeatConditions(this.deps.alerts, this.deps.config, hb, this.agents.whereIs(hb.agentId));
  }

  /** An alert the agent posted itself; repeated ones within `agentAlertRepeatMs` are dropped. */
  async recordAgentAlert(a: AgentAlert): Promise<void> {
    await this.refreshIndexFor(a.agentId);
    await raiseAgentAlert(this.deps.alerts, this.deps.config, a, this.agents.whereIs(a.agentId));
  }

  /** An agent the last analysis did not know (a VM created since): re-read the instances, at most once per analysis interval. */
  private async refreshIndexFor(agentId: string): Promise<void> {
    const now = this.clock();
    if (this.agents.owns(agentId) || now - this.indexRefreshedAt < this.deps.config.analyzeIntervalMs) return;
    this.indexRefreshedAt = now;
    try {
      this.agents.setInstances(await this.deps.store.listInstances());
    } catch (err) {
      this.deps.logger.warn(`could not read the instances: ${errorMessage(err)}`);
    }
  }

  /** One analysis pass (the loop calls it; tests call it directly). */
  async analyze(): Promise<void> {
    const now = this.clock();
    const [instances, locked] = await Promise.all([this.deps.store.listInstances(), this.deps.tasks.lockedDeployments()]);
    this.agents.setInstances(instances);
    this.indexRefreshedAt = now;

    const byDeployment = new Map<string, MonitoredInstance[]>();
    for (const i of instances) byDeployment.set(i.deployment, [...(byDeployment.get(i.deployment) ?? []), i]);

    const vmHealth = { cloud: this.deps.cloud, alerts: this.deps.alerts, agents: this.agents, config: this.deps.config, logger: this.deps.logger };
    for (const [deployment, list] of byDeployment) {
      if (locked.has(deployment)) continue;
      const unhealthy = await analyzeDeployment(vmHealth, list, now);
      if (this.listener) {
        try {
          await this.listener.onAnalysis(deployment, list, unhealthy);
        } catch (err) {
          this.deps.logger.error(`the resurrector failed for deployment ${deployment}: ${errorMessage(err)}`);
        }
      }
    }
    this.agents.forgetExpectedButUnowned();
    await this.strays.findRogueAgents(now);
    if (locked.size === 0) await this.strays.findUnknownVms(instances, now);
  }
}
