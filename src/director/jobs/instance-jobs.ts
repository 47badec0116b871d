/**
 * start / stop / restart / recreate [group[/index]] as tasks. They converge the selected instances
 * to the last successfully deployed manifest; the desired state (started/stopped) is stored first,
 * so that it survives a director restart and later deploys keep a stopped instance stopped.
 */
import { InvalidInputError, NotFoundError } from '../../common/errors.js';
import type { InstanceRecord } from '../../store/store.js';
import type { JobRequest, TaskInfo } from '../../common/contracts/api.js';
import { policyFor, resolveMaxInFlight, updateBatches } from '../deploy/batches.js';
import type { Deployer } from '../deploy/deployer.js';
import { instanceName } from '../deploy/instance-deps.js';
import type { InstanceDeps, InstanceTarget } from '../deploy/instance-deps.js';
import { convergeInstance, updateInstance } from '../deploy/instance-updater.js';
import type { DeploymentPlan } from '../deploy/plan.js';
import { withDeadline } from '../../common/waiting.js';
import { connectAgent, deployedStemcell, deployedVmGroup } from '../deploy/vm-steps.js';
import type { TaskContext } from '../tasks/task-context.js';
import type { TaskRunner } from '../tasks/task-runner.js';

const ACTIONS = ['start', 'stop', 'restart', 'recreate'] as const;

export class InstanceJobs {
  constructor(
    private readonly deps: InstanceDeps,
    private readonly deployer: Deployer,
    private readonly tasks: TaskRunner,
  ) {}

  async run(deployment: string, request: JobRequest, user: string): Promise<TaskInfo> {
    if (!ACTIONS.includes(request.action)) {
      throw new InvalidInputError(`Unknown action "${String(request.action)}"; use one of ${ACTIONS.join(', ')}.`);
    }
    const loaded = await this.deployer.deployedManifest(deployment);
    if (loaded === null) throw new NotFoundError(`Deployment "${deployment}" has not been deployed successfully; deploy it first.`);
    const { plan, bySlot } = await this.deployer.plan(loaded);
    const targets = this.select(plan, bySlot, request);
    const what = request.group === undefined ? '' : ` ${request.group}${request.index === undefined ? '' : `/${request.index}`}`;
    return this.tasks.enqueue({ description: `${request.action}${what}`, deployment, user }, async (ctx) => {
      for (const group of plan.groups) {
        const mine = targets.filter((t) => t.group.name === group.name);
        const policy = policyFor(group, plan.update);
        const batches = updateBatches(mine, 0, resolveMaxInFlight(policy.maxInFlight, group.instances.length));
        let index = 0;
        for (const batch of batches) {
          await ctx.checkCancelled();
          const results = await Promise.allSettled(
            batch.items.map((t) =>
              ctx.step(stageName(request.action), t.name, ++index, mine.length, () => this.runOne(ctx, request.action, t, policy.updateWatchTime)),
            ),
          );
          const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
          if (failed !== undefined) throw failed.reason;
        }
      }
      return JSON.stringify({ action: request.action, instances: targets.map((t) => t.name) });
    });
  }

  private select(plan: DeploymentPlan, bySlot: Map<string, InstanceRecord>, request: JobRequest): InstanceTarget[] {
    const targets: InstanceTarget[] = [];
    for (const group of plan.groups) {
      if (request.group !== undefined && group.name !== request.group) continue;
      for (const spec of group.instances) {
        if (request.index !== undefined && spec.index !== request.index) continue;
        const record = bySlot.get(`${group.name}/${spec.index}`);
        if (record === undefined) continue;
        // recreate and start boot the stemcell the instance is deployed with, not the newest.
        targets.push({ record, group: deployedVmGroup(record, group), spec, name: instanceName(record), stemcell: deployedStemcell(this.deps, record, group) });
      }
    }
    if (targets.length === 0) {
      const what = request.group === undefined ? 'any instance' : `instance ${request.group}${request.index === undefined ? '' : `/${request.index}`}`;
      throw new NotFoundError(`Deployment "${plan.name}" has no ${what}; list them with "bosun instances".`);
    }
    return targets;
  }

  private async runOne(ctx: TaskContext, action: JobRequest['action'], target: InstanceTarget, watch: { minMs: number; maxMs: number }): Promise<void> {
    const store = this.deps.store;
    switch (action) {
      case 'stop': {
        await store.instances.setDesired(target.record.id, 'stopped');
        const agent = connectAgent(this.deps, target.record);
        // A stop waits for each container's stop timeout: an apply's budget, not a quick call's.
        if (agent !== null) await withDeadline(this.deps.config.applyTimeoutMs, `stop on ${target.name}`, (signal) => agent.stop({ signal }), ctx.signal);
        await store.instances.setJobState(target.record.id, 'stopped');
        return;
      }
      case 'start': {
        await store.instances.setDesired(target.record.id, 'started');
        target.record = { ...target.record, desired: 'started' };
        await updateInstance(this.deps, ctx, target, { recreate: false, watch });
        return;
      }
      case 'restart': {
        await store.instances.setDesired(target.record.id, 'started');
        target.record = { ...target.record, desired: 'started' };
        const agent = connectAgent(this.deps, target.record);
        if (agent === null) {
          await updateInstance(this.deps, ctx, target, { recreate: false, watch });
          return;
        }
        await withDeadline(this.deps.config.applyTimeoutMs, `stop on ${target.name}`, (signal) => agent.stop({ signal }), ctx.signal);
        await ctx.checkCancelled();
        await convergeInstance(this.deps, ctx, target.record, agent, target.name, watch);
        return;
      }
      case 'recreate':
        await updateInstance(this.deps, ctx, target, { recreate: true, watch });
        return;
    }
  }
}

function stageName(action: JobRequest['action']): string {
  return { start: 'Starting instance', stop: 'Stopping instance', restart: 'Restarting instance', recreate: 'Recreating instance' }[action];
}
