/**
 * The resurrector: told by the health monitor which instances of a deployment are unhealthy
 * (unresponsive agent or missing VM), it queues one scan-and-fix task per deployment that
 * recreates their VMs with their disks. The task holds the deployment lock, so a deploy and a
 * resurrection never run at once. On by default (BOSH: off), per deployment overridable; stops
 * at BOSH's meltdown rule with a severity-1 alert and stays stopped until an operator resets it.
 */
import type { Logger } from '../../common/logger.js';
import { ConflictError, errorMessage } from '../../common/errors.js';
import { Severity, type AlertCenter } from '../health/alerts.js';
import type { ResurrectorConfig } from '../health/config.js';
import type { DeploymentHealthListener, UnhealthyInstance } from '../health/health-monitor.js';
import {
  instanceName,
  type Clock,
  type HealthStore,
  type MonitoredInstance,
  type TaskRunnerPort,
  type TaskStep,
} from '../health/ports.js';
import { MeltdownGuard } from './meltdown.js';
import type { InstanceRecreator } from './recreate-vm.js';

const MAX_RETRY_MS = 600_000;
export const RESURRECTOR_USER = 'health_monitor';

export interface ResurrectorDeps {
  store: Pick<HealthStore, 'listInstances' | 'resurrectionSettings'>;
  tasks: TaskRunnerPort;
  recreator: InstanceRecreator;
  alerts: AlertCenter;
  config: ResurrectorConfig;
  logger: Logger;
  clock?: Clock;
  /** Re-checks, inside the task, that an instance is still unhealthy (it may have recovered while the task was queued). */
  stillUnhealthy?: (u: UnhealthyInstance) => Promise<boolean>;
  /** Called after an instance got a new VM (the monitor forgets the old agent). */
  onRecreated?: (before: MonitoredInstance, after: { vmCid: string; agentId: string }) => void;
}

export interface ResurrectionResult {
  resurrected: Array<{ instance: string; oldVmCid: string | null; newVmCid: string }>;
  failed: Array<{ instance: string; error: string }>;
  skipped: string[];
}

export class Resurrector implements DeploymentHealthListener {
  readonly meltdown: MeltdownGuard;
  private readonly inFlight = new Set<string>();
  private readonly retry = new Map<string, { next: number; delayMs: number }>();
  private readonly pending = new Set<Promise<void>>();
  /** Deployments whose next resurrection the operator approved: the instances down at the reset are not counted again. */
  private readonly approved = new Set<string>();
  private readonly clock: Clock;

  constructor(private readonly deps: ResurrectorDeps) {
    this.meltdown = new MeltdownGuard(deps.config.meltdown);
    this.clock = deps.clock ?? Date.now;
  }

  async enabledFor(deployment: string): Promise<boolean> {
    const s = await this.deps.store.resurrectionSettings();
    return s.deployments[deployment] ?? s.global;
  }

  /** The operator turned resurrection (back) on or ran cloud-check: the meltdown latch and retry backoffs are reset. */
  operatorReset(deployment?: string): void {
    // Only a deployment that was in meltdown needs the approval; it is used up by its next analysis.
    for (const d of this.meltdown.latchedDeployments())
      if (deployment === undefined || d === deployment) this.approved.add(d);
    this.meltdown.reset(deployment);
    if (deployment === undefined) this.retry.clear();
    else for (const [id] of this.retry) if (id.startsWith(`${deployment}\u0000`)) this.retry.delete(id);
  }

  /** Waits for the resurrection tasks this resurrector queued (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }

  async onAnalysis(
    deployment: string,
    instances: readonly MonitoredInstance[],
    unhealthy: readonly UnhealthyInstance[],
  ): Promise<void> {
    const approved = this.approved.delete(deployment);
    if (unhealthy.length === 0) return;
    if (!(await this.enabledFor(deployment))) return;
    const now = this.clock();
    if (!approved)
      this.meltdown.record(
        deployment,
        unhealthy.map((u) => u.instance.id),
        now,
      );
    if (this.meltdown.isLatched(deployment)) return;
    if (!approved && this.meltdown.check(deployment, instances.length, now)) {
      await this.raiseMeltdown(deployment, instances.length, now);
      return;
    }
    if (this.inFlight.has(deployment)) return;
    const due = unhealthy.filter((u) => (this.retry.get(retryKey(u.instance))?.next ?? 0) <= now);
    if (due.length === 0) return;

    this.inFlight.add(deployment);
    const names = due.map((u) => instanceName(u.instance)).join(', ');
    try {
      const handle = await this.deps.tasks.submit(
        { deployment, description: `scan and fix: recreate ${names}`, user: RESURRECTOR_USER },
        (log) => this.resurrect(deployment, due, log),
      );
      const p = handle.done.finally(() => {
        this.inFlight.delete(deployment);
        this.pending.delete(p);
      });
      this.pending.add(p);
    } catch (err) {
      this.inFlight.delete(deployment);
      // A task that took the lock in between (a deploy) is normal: the next analysis tries again.
      const log =
        err instanceof ConflictError
          ? this.deps.logger.info.bind(this.deps.logger)
          : this.deps.logger.error.bind(this.deps.logger);
      log(`could not queue the resurrection of ${deployment} ${names}: ${errorMessage(err)}`);
    }
  }

  private async raiseMeltdown(deployment: string, total: number, now: number): Promise<void> {
    const down = this.meltdown.unhealthyCount(deployment, now);
    const m = this.deps.config.meltdown;
    await this.deps.alerts.raise(
      {
        severity: Severity.alert,
        category: 'meltdown',
        title: 'Meltdown: resurrection stopped',
        summary:
          `${down} of ${total} instances of ${deployment} became unhealthy within ${Math.round(m.timeThresholdMs / 1000)} s ` +
          `(limits: ${m.minimumDownJobs} instances and ${m.percentThreshold}%), which points at a wider failure (network, cloud); ` +
          `no VM is recreated. Fix the cause, then run \`bosun update-resurrection on\` or \`bosun -d ${deployment} cck\`.`,
        deployment,
      },
      { key: `meltdown:${deployment}` },
    );
  }

  /** The task body: recreates each instance in turn; throws when any failed, so the task ends in error. */
  private async resurrect(
    deployment: string,
    due: readonly UnhealthyInstance[],
    log: (s: TaskStep) => void,
  ): Promise<ResurrectionResult> {
    const result: ResurrectionResult = { resurrected: [], failed: [], skipped: [] };
    const fresh = new Map((await this.deps.store.listInstances(deployment)).map((i) => [i.id, i]));
    for (const u of due) {
      const name = instanceName(u.instance);
      const inst = fresh.get(u.instance.id);
      // Checked again inside the lock: a deploy or cck may have changed the instance, a meltdown may have tripped.
      if (!inst || inst.vmCid !== u.instance.vmCid || this.meltdown.isLatched(deployment)) {
        result.skipped.push(name);
        continue;
      }
      if (
        this.deps.stillUnhealthy &&
        !(await this.deps.stillUnhealthy({ instance: inst, problem: u.problem }))
      ) {
        result.skipped.push(name);
        continue;
      }
      const why =
        u.problem === 'missing_vm' ? `its VM ${inst.vmCid} is missing` : `its agent stopped answering`;
      await this.deps.alerts.raise({
        severity: Severity.warning,
        category: 'resurrection_started',
        title: 'Resurrecting instance',
        summary: `Recreating the VM of ${deployment} ${name} because ${why}; its ${inst.disks.filter((d) => d.active).length} persistent disk(s) are re-attached.`,
        deployment,
        instance: name,
      });
      try {
        const after = await this.deps.recreator.recreate(inst, log);
        this.retry.delete(retryKey(inst));
        this.deps.onRecreated?.(inst, after);
        result.resurrected.push({ instance: name, oldVmCid: inst.vmCid, newVmCid: after.vmCid });
        await this.deps.alerts.raise({
          severity: Severity.warning,
          category: 'resurrection_succeeded',
          title: 'Instance resurrected',
          summary: `${deployment} ${name} runs again on VM ${after.vmCid} (was ${inst.vmCid ?? 'none'}).`,
          deployment,
          instance: name,
        });
      } catch (err) {
        const prev = this.retry.get(retryKey(inst));
        const delayMs = prev ? Math.min(prev.delayMs * 2, MAX_RETRY_MS) : this.deps.config.retryIntervalMs;
        this.retry.set(retryKey(inst), { next: this.clock() + delayMs, delayMs });
        result.failed.push({ instance: name, error: errorMessage(err) });
        await this.deps.alerts.raise({
          severity: Severity.critical,
          category: 'resurrection_failed',
          title: 'Resurrection failed',
          summary: `Recreating the VM of ${deployment} ${name} failed: ${errorMessage(err).replace(/\.?$/, '.')} Next attempt in ${Math.round(delayMs / 1000)} s; \`bosun -d ${deployment} cck\` shows the problem.`,
          deployment,
          instance: name,
        });
      }
    }
    if (result.failed.length > 0) {
      throw new Error(
        `Resurrection failed for ${result.failed.map((f) => `${f.instance}: ${f.error}`).join('; ')}`,
      );
    }
    return result;
  }
}

function retryKey(i: MonitoredInstance): string {
  return `${i.deployment}\u0000${i.id}`;
}
