/**
 * Heartbeats and alerts the agents post: the health monitor keeps the last heartbeat (in memory)
 * and raises what it shows; the instance row gets what `bosun instances` shows of it. A heartbeat
 * from an agent no instance uses is noted once as an event.
 */
import type { AgentAlert, Heartbeat } from '../common/contracts/agent-protocol.js';
import type { Store } from '../store/store.js';
import type { HealthMonitor } from './health/health-monitor.js';

export class HeartbeatIntake {
  constructor(
    private readonly store: Store,
    private readonly monitor: () => Pick<HealthMonitor, 'recordHeartbeat' | 'recordAgentAlert'>,
    /** Agent ids whose VM is being created right now (not yet recorded). */
    private readonly creatingAgents: ReadonlySet<string>,
    /** Service discovery: a container's state changed (a new DNS version), or a waiting push may go now. */
    private readonly dns: (heartbeat: Heartbeat) => void = () => undefined,
  ) {}

  async recordHeartbeat(heartbeat: Heartbeat): Promise<void> {
    this.dns(heartbeat);
    await this.monitor().recordHeartbeat(heartbeat);
    const r = await this.store.instances.findByAgentId(heartbeat.agentId);
    if (r === undefined) {
      // Its VM is being created right now: the store learns the agent id when createVm returns.
      if (this.creatingAgents.has(heartbeat.agentId)) return;
      // An agent the director does not know (a VM left over, another director's): note it once.
      if (!(await this.store.auditEvents.exists('unknown_agent', heartbeat.agentId))) {
        await this.store.auditEvents.record({
          user: 'health_monitor',
          action: 'unknown_agent',
          objectType: 'vm',
          objectName: heartbeat.agentId,
          deployment: heartbeat.deployment,
          context: { vmCid: heartbeat.vmCid, message: 'heartbeat from an agent that no instance of this director uses' },
        });
      }
      return;
    }
    await this.store.instances.recordHeartbeat(r.id, heartbeat.timestamp, heartbeat.jobState);
  }

  /** Stored and sent to the responders, de-duplicated with what the heartbeats show. */
  recordAgentAlert(alert: AgentAlert): Promise<void> {
    return this.monitor().recordAgentAlert(alert);
  }
}
