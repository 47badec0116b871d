/**
 * The resurrector: told by the health monitor which instances of a deployment are unhealthy
 * (unresponsive agent or missing VM), it queues one scan-and-fix task per deployment that
 * recreates their VMs with their disks. The task holds the deployment lock, so a deploy and a
 * resurrection never run at once. On by default (BOSH: off), per deployment overridable; stops
 * at BOSH's meltdown rule with a severity-1 alert and stays stopped until an operator resets it
 * (the stop is persisted, so a restarted director stays stopped too).
 *
 * Only instances that were deployed are resurrected (as BOSH): a deployment that never deployed
 * successfully has no manifest to recreate from, and an instance that never got its spec has
 * nothing to run; both only alert, once. A failed resurrection is retried after a backoff
 * (retry_interval, doubling up to 10 min) that is forgotten when it succeeds or the operator
 * changes the instance (deploy, recreate, cck) — never in a tight loop.
 */
import type { Logger } from '../../common/logger.js';
import { ConflictError, errorMessage } from '../../common/errors.js';
import { throwIfAborted } from '../../common/waiting.js';
import { Severity, type AlertCenter } from '../health/alerts.js';
import type { ResurrectorConfig } from '../health/config.js';
import type { DeploymentHealthListener, UnhealthyInstance } from '../health/health-monitor.js';
import {
  instanceName,
  type Clock,
  type HealthStore,
  type MeltdownStore,
  type MonitoredInstance,
  type TaskRunnerPort,
  type TaskStep,
} from '../health/ports.js';
import { MeltdownGuard } from './meltdown.js';
import type { InstanceRecreator } from './instance-recreator.js';

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
  /** Persists the meltdown stop (director: its config table); without it the stop lives in memory. */
  meltdowns?: MeltdownStore;
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
  /**
   * Backoff after a failed resurrection, per instance. It holds only while the instance is as the
   * failed attempt left it (same VM, same last deploy): a deploy, recreate or cck resets it.
   */
  private readonly retry = new Map<string, RetryEntry>();
  private loaded: Promise<void> | null = null;
  /** Serialises the meltdown writes, so an older state never overwrites a newer one. */
  private saving: Promise<void> = Promise.resolve();
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

  /**
   * The operator turned resurrection (back) on or ran cloud-check: the meltdown stop (persisted
   * one included) and retry backoffs are reset.
   */
  async operatorReset(deployment?: string): Promise<void> {
    // A stop loaded after this reset must not come back: load first.
    await this.load();
    // Only a deployment that was in meltdown needs the approval; it is used up by its next analysis.
    const wasLatched = this.meltdown.latchedDeployments();
    for (const d of wasLatched) if (deployment === undefined || d === deployment) this.approved.add(d);
    this.meltdown.reset(deployment);
    if (deployment === undefined) this.retry.clear();
    else for (const [id] of this.retry) if (id.startsWith(`${deployment}\u0000`)) this.retry.delete(id);
    if (wasLatched.some((d) => deployment === undefined || d === deployment)) await this.persist();
  }

  /** Restores the meltdown stops a previous director process left (once). */
  private load(): Promise<void> {
    const store = this.deps.meltdowns;
    if (!store) return Promise.resolve();
    this.loaded ??= store.loadMeltdowns().then(
      (saved) => {
        const restored = new Map<string, number>();
        for (const [d, at] of Object.entries(saved)) restored.set(d, Date.parse(at) || this.clock());
        this.meltdown.restore(restored);
        if (restored.size > 0)
          this.deps.logger.warn(
            `resurrection stays stopped (meltdown) for ${[...restored.keys()].join(', ')}; run \`bosun update-resurrection on\` or \`bosun -d DEPLOYMENT cck\` once the cause is fixed`,
          );
      },
      (err: unknown) => {
        // Reading failed: try again at the next analysis rather than resurrect as if nothing were stopped.
        this.loaded = null;
        throw err;
      },
    );
    return this.loaded;
  }

  private persist(): Promise<void> {
    const store = this.deps.meltdowns;
    if (!store) return Promise.resolve();
    const write = async (): Promise<void> => {
      const out: Record<string, string> = {};
      for (const [d, t] of this.meltdown.latchedSince()) out[d] = new Date(t).toISOString();
      await store.saveMeltdowns(out);
    };
    const p = this.saving.then(write, write);
    this.saving = p.catch(() => undefined);
    return p;
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
    await this.load();
    const approved = this.approved.delete(deployment);
    this.forgetOutdatedBackoffs(deployment, instances);
    if (!(await this.enabledFor(deployment))) return;
    // Only what was deployed is resurrected (as BOSH): no manifest or no spec means nothing to recreate.
    const candidates = unhealthy.filter((u) => resurrectable(u.instance));
    await this.alertNotResurrectable(
      deployment,
      unhealthy.filter((u) => !resurrectable(u.instance)),
    );
    if (candidates.length === 0) return;
    const now = this.clock();
    if (!approved)
      this.meltdown.record(
        deployment,
        candidates.map((u) => u.instance.id),
        now,
      );
    if (this.meltdown.isLatched(deployment)) return;
    if (!approved && this.meltdown.check(deployment, instances.length, now)) {
      await this.persist().catch((err: unknown) =>
        this.deps.logger.error(
          `could not save the meltdown stop of ${deployment}; a restarted director would not know it: ${errorMessage(err)}`,
        ),
      );
      await this.raiseMeltdown(deployment, instances.length, now);
      return;
    }
    if (this.inFlight.has(deployment)) return;
    const due = candidates.filter((u) => (this.retry.get(retryKey(u.instance))?.next ?? 0) <= now);
    if (due.length === 0) return;

    this.inFlight.add(deployment);
    const names = due.map((u) => instanceName(u.instance)).join(', ');
    try {
      const handle = await this.deps.tasks.submit(
        { deployment, description: `scan and fix: recreate ${names}`, user: RESURRECTOR_USER },
        (log, signal) => this.resurrect(deployment, due, log, signal),
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

  /** Backoffs of instances that changed since the failed attempt (deployed, recreated, cck) or are gone. */
  private forgetOutdatedBackoffs(deployment: string, instances: readonly MonitoredInstance[]): void {
    const byKey = new Map(instances.map((i) => [retryKey(i), i]));
    for (const [key, entry] of this.retry) {
      if (!key.startsWith(`${deployment}\u0000`)) continue;
      const i = byKey.get(key);
      if (!i || i.vmCid !== entry.vmCid || (i.deployedAt ?? null) !== entry.deployedAt) this.retry.delete(key);
    }
  }

  /** One alert per deployment while some of its unhealthy instances cannot be resurrected. */
  private async alertNotResurrectable(deployment: string, skipped: readonly UnhealthyInstance[]): Promise<void> {
    const key = `not_resurrectable:${deployment}`;
    if (skipped.length === 0) {
      this.deps.alerts.clear(key);
      return;
    }
    const neverDeployed = skipped.some((u) => u.instance.deployedAt === null);
    const names = skipped.map((u) => instanceName(u.instance)).join(', ');
    await this.deps.alerts.raise(
      {
        severity: Severity.error,
        category: 'resurrection_skipped',
        title: 'Not resurrected: never deployed',
        summary: neverDeployed
          ? `${deployment} ${names} ${skipped.length === 1 ? 'is' : 'are'} unhealthy but not resurrected: deployment ${deployment} has never been deployed successfully, so there is no manifest to recreate from. Fix the manifest and run \`bosun -d ${deployment} deploy\`, or delete the deployment.`
          : `${deployment} ${names} ${skipped.length === 1 ? 'is' : 'are'} unhealthy but not resurrected: nothing was ever applied to ${skipped.length === 1 ? 'it' : 'them'} (the deploy that added ${skipped.length === 1 ? 'it' : 'them'} failed). Run \`bosun -d ${deployment} deploy\` again.`,
        deployment,
      },
      { key },
    );
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
    signal?: AbortSignal,
  ): Promise<ResurrectionResult> {
    const result: ResurrectionResult = { resurrected: [], failed: [], skipped: [] };
    try {
      const fresh = new Map((await this.deps.store.listInstances(deployment)).map((i) => [i.id, i]));
      for (const u of due) {
        const name = instanceName(u.instance);
        const inst = fresh.get(u.instance.id);
        // Checked again inside the lock: a deploy or cck may have changed the instance, a meltdown may have tripped.
        if (!inst || inst.vmCid !== u.instance.vmCid || this.meltdown.isLatched(deployment) || !resurrectable(inst)) {
          result.skipped.push(name);
          continue;
        }
        // An instance without a VM needs no second opinion: the fresh record says so.
        if (
          u.problem !== 'no_vm' &&
          this.deps.stillUnhealthy &&
          !(await this.deps.stillUnhealthy({ instance: inst, problem: u.problem }))
        ) {
          result.skipped.push(name);
          continue;
        }
        // A task that lost its lock (or was cancelled) touches no further instance.
        throwIfAborted(signal);
        await this.resurrectOne(deployment, inst, u.problem, log, result, signal);
      }
    } catch (err) {
      // Something outside one instance's recreation broke (the store …): every instance not yet
      // handled backs off like a failed one, so a broken task is not queued again at once.
      const done = new Set([
        ...result.resurrected.map((r) => r.instance),
        ...result.failed.map((f) => f.instance),
        ...result.skipped,
      ]);
      for (const u of due)
        if (!done.has(instanceName(u.instance))) await this.failed(deployment, u.instance, err, result);
    }
    if (result.failed.length > 0) {
      throw new Error(
        `Resurrection failed for ${result.failed.map((f) => `${f.instance}: ${f.error}`).join('; ')}`,
      );
    }
    return result;
  }

  private async resurrectOne(
    deployment: string,
    inst: MonitoredInstance,
    problem: UnhealthyInstance['problem'],
    log: (s: TaskStep) => void,
    result: ResurrectionResult,
    signal?: AbortSignal,
  ): Promise<void> {
    const name = instanceName(inst);
    const why =
      problem === 'missing_vm'
        ? `its VM ${inst.vmCid} is missing`
        : problem === 'no_vm'
          ? 'it has no VM (a recreate or resurrection was interrupted, or its VM reference was deleted)'
          : 'its agent stopped answering';
    const containers = inst.desired === 'stopped' ? ' Its containers stay stopped, as desired.' : '';
    await this.deps.alerts.raise({
      severity: Severity.warning,
      category: 'resurrection_started',
      title: 'Resurrecting instance',
      summary: `Recreating the VM of ${deployment} ${name} because ${why}; its ${inst.disks.filter((d) => d.active).length} persistent disk(s) are re-attached.${containers}`,
      deployment,
      instance: name,
    });
    try {
      const after = await this.deps.recreator.recreate(inst, log, signal);
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
      await this.failed(deployment, inst, err, result);
    }
  }

  /** Records a failed resurrection: backoff (keyed to the instance as the attempt left it) and an alert. */
  private async failed(
    deployment: string,
    inst: MonitoredInstance,
    err: unknown,
    result: ResurrectionResult,
  ): Promise<void> {
    const name = instanceName(inst);
    const key = retryKey(inst);
    const prev = this.retry.get(key);
    const delayMs = prev ? Math.min(prev.delayMs * 2, MAX_RETRY_MS) : this.deps.config.retryIntervalMs;
    // The attempt may have deleted the old VM or created a new one: the backoff holds for that state.
    let now: MonitoredInstance = inst;
    try {
      now = (await this.deps.store.listInstances(deployment)).find((i) => i.id === inst.id) ?? inst;
    } catch {
      // Keep the state known before the attempt; at worst the backoff is forgotten early.
    }
    this.retry.set(key, {
      next: this.clock() + delayMs,
      delayMs,
      vmCid: now.vmCid,
      deployedAt: now.deployedAt ?? null,
    });
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

interface RetryEntry {
  next: number;
  delayMs: number;
  vmCid: string | null;
  deployedAt: string | null;
}

/** Deployed at least once, and given its spec: there is something to recreate it from. */
function resurrectable(i: MonitoredInstance): boolean {
  return i.deployedAt !== null && i.spec !== null;
}

function retryKey(i: MonitoredInstance): string {
  return `${i.deployment}\u0000${i.id}`;
}
