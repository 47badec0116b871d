/**
 * The deploy: validate and diff before any task exists, then as a task holding the deployment's
 * lock: bind instances (stable ids), delete unneeded instances (disks orphaned), and update each
 * group (serially, or in parallel for consecutive serial:false groups): canaries first, then
 * batches of max_in_flight. Unchanged instances are not touched. A failed batch stops the deploy.
 * The manifest becomes the deployment's manifest only when everything succeeded.
 */
import { randomUUID } from 'node:crypto';
import { InvalidInputError } from '../../common/errors.js';
import type { InstanceRecord } from '../../store/store.js';
import type { DeployRequest, DiffResponse, TaskInfo } from '../../common/contracts/api.js';
import type { TaskContext } from '../tasks/task-context.js';
import type { TaskRunner } from '../tasks/task-runner.js';
import { groupWaves, policyFor, resolveMaxInFlight, updateBatches } from './batches.js';
import { instanceName } from './instance-deps.js';
import type { InstanceDeps, InstanceTarget } from './instance-deps.js';
import { isUpToDate, removeInstance, updateInstance } from './instance-updater.js';
import type { DeploymentPlan, LoadedDeploymentManifest, ManifestPort, PlannedGroup, UpdatePolicy } from './plan.js';

const slot = (group: string, index: number): string => `${group}/${index}`;

export class Deployer {
  constructor(
    private readonly deps: InstanceDeps,
    private readonly manifests: ManifestPort,
    private readonly tasks: TaskRunner,
  ) {}

  async diff(request: DeployRequest): Promise<DiffResponse> {
    const loaded = this.manifests.load(request.manifest);
    return this.diffLoaded(loaded, request.showSecrets ?? false);
  }

  async deploy(request: DeployRequest, user: string): Promise<TaskInfo> {
    if (request.dryRun === true) {
      throw new InvalidInputError('A dry run creates no task: call diff (POST /api/v1/deployments/diff) to see what a deploy would change.');
    }
    const loaded = this.manifests.load(request.manifest);
    const diff = await this.diffLoaded(loaded, false);
    const recreate = request.recreate === true;
    const existed = (await this.deps.store.deployments.get(loaded.name))?.manifest != null;
    return this.tasks.enqueue(
      { description: `${existed ? 'deploy' : 'create deployment'}${recreate ? ' (recreate)' : ''}`, deployment: loaded.name, user },
      async (ctx) => {
        await ctx.event({ stage: 'Preparing deployment', step: 'Changes', index: 1, total: 1, state: 'finished', data: { changes: diff.changes.length } });
        return this.run(ctx, loaded, request.manifest, recreate);
      },
    );
  }

  /** Loads the last successfully deployed manifest of `name`, or null. */
  async deployedManifest(name: string): Promise<LoadedDeploymentManifest | null> {
    const d = await this.deps.store.deployments.get(name);
    if (d?.manifest == null) return null;
    return this.manifests.load(d.manifest);
  }

  /** Plans `loaded` with the instance ids already recorded for its slots (new slots get new ids). */
  async plan(loaded: LoadedDeploymentManifest): Promise<{ plan: DeploymentPlan; bySlot: Map<string, InstanceRecord> }> {
    const existing = await this.deps.store.instances.listByDeployment(loaded.name);
    const bySlot = new Map(existing.map((r) => [slot(r.group, r.index), r]));
    const plan = this.manifests.plan(loaded, (group, index) => bySlot.get(slot(group, index))?.id ?? randomUUID());
    return { plan, bySlot };
  }

  private async diffLoaded(loaded: LoadedDeploymentManifest, showSecrets: boolean): Promise<DiffResponse> {
    const before = await this.deployedManifest(loaded.name);
    const diff = this.manifests.diff(before, loaded, { showSecrets });
    return { ...diff, warnings: [...new Set([...loaded.warnings, ...diff.warnings])] };
  }

  private async run(ctx: TaskContext, loaded: LoadedDeploymentManifest, text: string, recreate: boolean): Promise<string> {
    const store = this.deps.store;
    await store.deployments.setPending(loaded.name, text);
    const { plan, bySlot } = await ctx.step('Preparing deployment', 'Binding instances', 1, 1, () => this.plan(loaded));

    const planned = new Set(plan.groups.flatMap((g) => g.instances.map((s) => slot(g.name, s.index))));
    const unneeded = [...bySlot.values()].filter((r) => !planned.has(slot(r.group, r.index)));
    for (const [i, r] of unneeded.entries()) {
      await ctx.step('Deleting unneeded instances', instanceName(r), i + 1, unneeded.length, () => removeInstance(this.deps, ctx, r));
    }

    let updated = 0;
    for (const wave of groupWaves(plan.groups, plan.update)) {
      const results = await Promise.allSettled(wave.map((g) => this.updateGroup(ctx, plan, g, bySlot, recreate)));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed !== undefined) throw failed.reason;
      for (const r of results) if (r.status === 'fulfilled') updated += r.value;
    }

    await store.deployments.markDeployed(loaded.name, text);
    const total = plan.groups.reduce((n, g) => n + g.instances.length, 0);
    return JSON.stringify({ deployment: loaded.name, instances: total, updated, deleted: unneeded.length });
  }

  /** Returns how many instances were updated. */
  private async updateGroup(ctx: TaskContext, plan: DeploymentPlan, group: PlannedGroup, bySlot: Map<string, InstanceRecord>, recreate: boolean): Promise<number> {
    const policy: UpdatePolicy = policyFor(group, plan.update);
    const targets: InstanceTarget[] = [];
    for (const spec of group.instances) {
      const record =
        bySlot.get(slot(group.name, spec.index)) ??
        (await this.deps.store.instances.create({ id: spec.instanceId, deployment: plan.name, group: group.name, index: spec.index }));
      targets.push({ record, group, spec, name: instanceName(record) });
    }
    const upToDate = recreate ? targets.map(() => false) : await Promise.all(targets.map((t) => isUpToDate(this.deps, t)));
    const needed = targets.filter((_, i) => upToDate[i] !== true);
    if (needed.length === 0) return 0;

    const batches = updateBatches(needed, policy.canaries, resolveMaxInFlight(policy.maxInFlight, group.instances.length));
    let index = 0;
    for (const batch of batches) {
      await ctx.checkCancelled();
      const watch = batch.canary ? policy.canaryWatchTime : policy.updateWatchTime;
      const results = await Promise.allSettled(
        batch.items.map((t) => {
          const step = `${t.name}${batch.canary ? ' (canary)' : ''}`;
          return ctx.step('Updating instance', step, ++index, needed.length, () => updateInstance(this.deps, ctx, t, { recreate, watch }));
        }),
      );
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed !== undefined) throw failed.reason;
    }
    return needed.length;
  }
}
