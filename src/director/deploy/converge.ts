/**
 * After an instance has its VM and disks: apply its spec, then start and watch it (or keep it
 * stopped). Deploy, start/restart/recreate, the resurrector and cloud-check all end this way.
 */
import type { AgentApi } from '../../common/contracts/agent-protocol.js';
import type { InstanceSpec } from '../../common/contracts/instance-spec.js';
import { withDeadline } from '../../common/waiting.js';
import type { WatchTime } from './plan.js';
import { watchInstance } from './watch.js';

export interface ConvergeTarget {
  /** For messages: "db/0 (id)". */
  name: string;
  desired: 'started' | 'stopped';
}

export interface ConvergeTimeouts {
  applyTimeoutMs: number;
  agentCallTimeoutMs: number;
  watchPollIntervalMs: number;
}

/**
 * Applies the spec. A stopped instance's agent is told to stop first, so that apply creates its
 * containers without ever starting them.
 */
export async function applySpec(agent: AgentApi, target: ConvergeTarget, spec: InstanceSpec, t: ConvergeTimeouts, signal?: AbortSignal): Promise<void> {
  if (target.desired === 'stopped') await withDeadline(t.applyTimeoutMs, `stop on ${target.name}`, (s) => agent.stop({ signal: s }), signal);
  await withDeadline(t.applyTimeoutMs, `apply on ${target.name}`, (s) => agent.apply(spec, { signal: s }), signal);
}

/** Starts and watches a started instance until it runs; keeps a stopped one stopped. Returns the job state reached. */
export async function converge(agent: AgentApi, target: ConvergeTarget, watch: WatchTime, t: ConvergeTimeouts, signal?: AbortSignal): Promise<'running' | 'stopped'> {
  // stop and start wait for containers (stop timeouts, dependencies, image pulls): an apply's budget.
  if (target.desired === 'stopped') {
    await withDeadline(t.applyTimeoutMs, `stop on ${target.name}`, (s) => agent.stop({ signal: s }), signal);
    return 'stopped';
  }
  await withDeadline(t.applyTimeoutMs, `start on ${target.name}`, (s) => agent.start({ signal: s }), signal);
  await watchInstance({ agent, instance: target.name, watch, pollIntervalMs: t.watchPollIntervalMs, callTimeoutMs: t.agentCallTimeoutMs, signal });
  return 'running';
}
