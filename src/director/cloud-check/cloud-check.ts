/**
 * Cloud-check (`bosun -d D cck`): a task holding the deployment lock that scans for problems and,
 * unless `report`, resolves them — by type as asked, or with each type's default with `auto`.
 * Its result (the task result) is a CckResult. Finishing a cck that changed something resets the
 * resurrector's meltdown latch for the deployment: the operator has looked at it.
 */
import type { Cloud } from '../../cloud/cloud.js';
import type { AgentConnector } from '../../common/contracts/agent-connector.js';
import type { Logger } from '../../common/logger.js';
import { errorMessage } from '../../common/errors.js';
import type { CckRequest, CckResult } from '../../common/contracts/api.js';
import type { HealthStore, TaskHandle, TaskRunnerPort, TaskStep } from '../health/ports.js';
import type { InstanceRecreator } from '../resurrector/instance-recreator.js';
import { chooseResolution, validateResolutions } from './problems.js';
import { applyResolution } from './resolver.js';
import { scanDeployment } from './scanner.js';

export interface CloudCheckDeps {
  store: HealthStore;
  cloud: Cloud;
  agents: AgentConnector;
  tasks: TaskRunnerPort;
  recreator: InstanceRecreator;
  logger: Logger;
  /** How long an agent may take to answer a ping before it counts as unresponsive. */
  agentCallTimeoutMs: number;
  timeouts: { vmDeleteTimeoutMs: number; agentWaitTimeoutMs: number };
  pollIntervalMs?: number | undefined;
  /** Called after resolutions were applied (the resurrector resets its meltdown latch). */
  onResolved?: (deployment: string) => void | Promise<void>;
}

export class CloudCheck {
  constructor(private readonly deps: CloudCheckDeps) {}

  /** Validates the request (errors before any task exists) and queues the cck task. */
  async submit(deployment: string, request: CckRequest, user: string): Promise<TaskHandle> {
    validateResolutions(request.resolutions);
    const mode = request.report ? 'report' : request.auto ? 'auto' : 'resolve';
    return this.deps.tasks.submit(
      { deployment, description: `scan and fix (cloud-check, ${mode})`, user },
      (log, signal) => this.run(deployment, request, log, signal),
    );
  }

  /** The task body. */
  async run(deployment: string, request: CckRequest, log: (s: TaskStep) => void, signal?: AbortSignal): Promise<CckResult> {
    const locked = await this.deps.tasks.lockedDeployments();
    // A VM another deployment's task is creating right now is not "unknown" yet.
    const othersBusy = [...locked].some((d) => d !== deployment);
    log({ stage: 'Scanning', step: `deployment ${deployment}`, state: 'started' });
    const scanned = await scanDeployment(
      {
        store: this.deps.store,
        cloud: this.deps.cloud,
        agents: this.deps.agents,
        logger: this.deps.logger,
        agentCallTimeoutMs: this.deps.agentCallTimeoutMs,
      },
      deployment,
      { includeUnknownVms: !othersBusy },
    );
    log({
      stage: 'Scanning',
      step: `deployment ${deployment}: ${scanned.length} problem(s)`,
      state: 'finished',
    });
    if (request.report) return { problems: scanned.map((s) => s.problem) };

    const failures: string[] = [];
    let changed = false;
    for (const s of scanned) {
      const resolution = chooseResolution(s.problem.type, request);
      try {
        await applyResolution(
          {
            store: this.deps.store,
            cloud: this.deps.cloud,
            agents: this.deps.agents,
            recreator: this.deps.recreator,
            timeouts: this.deps.timeouts,
            pollIntervalMs: this.deps.pollIntervalMs,
          },
          s,
          resolution,
          log,
          signal,
        );
        s.problem.appliedResolution = resolution;
        if (resolution !== 'ignore') changed = true;
      } catch (err) {
        failures.push(
          `problem ${s.problem.id} (${s.problem.description}) with ${resolution}: ${errorMessage(err)}`,
        );
        log({
          stage: 'Applying problem resolutions',
          step: `${s.problem.type}: ${resolution}`,
          state: 'failed',
          error: errorMessage(err),
        });
      }
    }
    if (changed) await this.deps.onResolved?.(deployment);
    if (failures.length > 0) {
      throw new Error(
        `Cloud-check could not resolve ${failures.length} problem(s); fix the cause and run cck again:\n${failures.join('\n')}`,
      );
    }
    return { problems: scanned.map((s) => s.problem) };
  }
}
