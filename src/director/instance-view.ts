/**
 * InstanceInfo for `bosun instances`: from the store, and with `ps`/`vitals` from the agent's
 * get_state. An agent that does not answer makes its instance 'unresponsive', not the call fail.
 */
import type { AgentApi } from '../common/contracts/agent-protocol.js';
import type { DiskRecord, InstanceRecord } from '../store/store.js';
import type { InstanceInfo } from '../common/contracts/api.js';
import { withDeadline } from '../common/waiting.js';

const JOB_STATES = new Set<InstanceInfo['state']>(['running', 'failing', 'starting', 'stopped', 'unknown']);

function storedState(r: InstanceRecord): InstanceInfo['state'] {
  // Bound by a deploy that stopped before creating it (a failed canary): not yet created, not lost.
  if (r.vmCid === null) return r.specJson === null ? 'not_created' : 'missing';
  const s = r.jobState as InstanceInfo['state'] | null;
  return s !== null && JOB_STATES.has(s) ? s : 'unknown';
}

export async function describeInstance(
  r: InstanceRecord,
  disks: DiskRecord[],
  agent: AgentApi | null,
  options: { ps?: boolean; vitals?: boolean },
  timeoutMs: number,
): Promise<InstanceInfo> {
  const info: InstanceInfo = {
    group: r.group,
    index: r.index,
    id: r.id,
    vmCid: r.vmCid,
    agentId: r.agentId,
    ip: r.ip,
    az: r.az,
    state: storedState(r),
    desired: r.desired,
    diskCids: disks.map((d) => d.cid),
    lastHeartbeatAt: r.lastHeartbeatAt,
  };
  if ((options.ps !== true && options.vitals !== true) || agent === null) return info;
  try {
    const state = await withDeadline(timeoutMs, 'get_state', () => agent.getState({ vitals: options.vitals === true }));
    info.state = state.jobState;
    if (options.ps === true) {
      info.containers = state.containers.map((c) => ({ name: c.name, state: c.state, uptimeSeconds: c.uptimeSeconds, restarts: c.restarts, flapping: c.flapping }));
    }
    if (options.vitals === true && state.vitals !== undefined) info.vitals = { ...state.vitals };
  } catch {
    info.state = 'unresponsive';
  }
  return info;
}
