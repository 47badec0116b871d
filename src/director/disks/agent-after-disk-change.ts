/**
 * After attach_disk or detach_disk the director waits for the VM's agent again before its next
 * agent call: some CPIs recreate the VM to attach or detach a disk (bosh-docker-cpi deletes and
 * recreates the VM's container: its ephemeral data is lost, the agent restarts with new settings,
 * nothing is mounted and no spec is applied). With a CPI that does not, the first ping answers.
 *
 * What the agent lost is read from its get_state: `specHash: null` means nothing is applied on the
 * VM (the agent's state file is gone), and `disks` lists what it has mounted. The caller re-mounts
 * what must be mounted and re-applies the instance's spec when it is lost, so the containers run
 * again (see reapplyIfLost).
 */
import type { Cloud } from '../../cloud/cloud.js';
import type { AgentApi, AgentState } from '../../common/contracts/agent-protocol.js';
import type { InstanceSpec } from '../../common/contracts/instance-spec.js';
import type { Logger } from '../../common/logger.js';
import { withDeadline } from '../../common/waiting.js';
import { waitForAgent, type ConsoleLogReader } from '../agent-client/agent-wait.js';

export interface AgentWaitTimeouts {
  agentCallTimeoutMs: number;
  /** How long an agent may take to answer again (a recreated VM boots). */
  agentWaitTimeoutMs: number;
  agentPingIntervalMs: number;
}

export interface AgentAfterDiskChange {
  agent: AgentApi;
  cloud: Cloud;
  vmCid: string;
  agentId: string | null;
  /** "group/index" for messages. */
  instance: string;
  timeouts: AgentWaitTimeouts;
  signal?: AbortSignal | undefined;
  consoleLog?: ConsoleLogReader | undefined;
}

/** Waits until the agent answers again and returns its state (specHash, mounted disks). */
export async function agentAfterDiskChange(o: AgentAfterDiskChange): Promise<Pick<AgentState, 'specHash' | 'disks' | 'stopped'>> {
  await waitForAgent({
    agent: o.agent,
    cloud: o.cloud,
    vmCid: o.vmCid,
    agentId: o.agentId ?? '(unknown agent)',
    instance: o.instance,
    timeoutMs: o.timeouts.agentWaitTimeoutMs,
    pingIntervalMs: o.timeouts.agentPingIntervalMs,
    callTimeoutMs: o.timeouts.agentCallTimeoutMs,
    signal: o.signal,
    consoleLog: o.consoleLog,
  });
  return withDeadline(o.timeouts.agentCallTimeoutMs, `get_state on ${o.instance}`, () => o.agent.getState(), o.signal);
}

/**
 * Re-applies `spec` when the agent came back with nothing applied (the cloud recreated the VM on
 * attach or detach); a stopped instance is stopped first so that apply does not start it.
 * Returns true when it re-applied.
 */
export async function reapplyIfLost(
  agent: AgentApi,
  state: Pick<AgentState, 'specHash'>,
  target: { name: string; desired: 'started' | 'stopped'; spec: InstanceSpec | undefined },
  applyTimeoutMs: number,
  logger: Logger,
  signal?: AbortSignal,
): Promise<boolean> {
  if (state.specHash !== null || target.spec === undefined) return false;
  logger.info('the agent came back without its applied spec (the cloud recreated the VM on a disk change); applying it again', { instance: target.name });
  if (target.desired === 'stopped') await withDeadline(applyTimeoutMs, `stop on ${target.name}`, (s) => agent.stop({ signal: s }), signal);
  await withDeadline(applyTimeoutMs, `apply on ${target.name}`, (s) => agent.apply(target.spec!, { signal: s }), signal);
  return true;
}
