/**
 * Heartbeats and alerts the agents post: the health monitor keeps the last heartbeat (in memory)
 * and raises what it shows; the instance row gets what `bosun instances` shows of it. A heartbeat
 * from an agent no instance uses is noted once as an event. The address a heartbeat carries is
 * how the director learns where a VM is when its cloud did not say (a dynamic network whose CPI
 * answers no IP): it is recorded for a VM whose recorded address is null, never over one the cloud
 * gave. The route checks that the agent id is the client certificate's (agents.ts), so an agent
 * can only tell its own address.
 */
import type { AgentAlert, Heartbeat } from '../common/contracts/agent-protocol.js';
import type { Store } from '../store/store.js';
import type { HealthMonitor } from './health/health-monitor.js';

/** Addresses remembered for agents (latest heartbeat first out when full). */
const MAX_REMEMBERED_ADDRESSES = 4096;

export class HeartbeatIntake {
  /** agent id → the address its last heartbeat carried (also before its VM is recorded). */
  private readonly addresses = new Map<string, string>();

  constructor(
    private readonly store: Store,
    private readonly monitor: () => Pick<HealthMonitor, 'recordHeartbeat' | 'recordAgentAlert'>,
    /** Agent ids whose VM is being created right now (not yet recorded). */
    private readonly creatingAgents: ReadonlySet<string>,
    /** Service discovery: a container's state changed (a new DNS version), or a waiting push may go now. */
    private readonly dns: (heartbeat: Heartbeat) => void = () => undefined,
  ) {}

  /** The address the agent's heartbeats carry, or null when none has come (yet). */
  addressOf(agentId: string): string | null {
    return this.addresses.get(agentId) ?? null;
  }

  async recordHeartbeat(heartbeat: Heartbeat): Promise<void> {
    if (heartbeat.ip !== undefined) this.rememberAddress(heartbeat.agentId, heartbeat.ip);
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
    if (heartbeat.ip !== undefined && r.ip === null && r.vmCid !== null && r.vmCid === heartbeat.vmCid) {
      if (await this.store.instances.learnIp(r.id, r.vmCid, heartbeat.ip)) await this.store.vms.learnIp(r.vmCid, heartbeat.ip);
    }
  }

  private rememberAddress(agentId: string, ip: string): void {
    this.addresses.delete(agentId); // re-inserted last: the map's order is least recently heard first
    this.addresses.set(agentId, ip);
    if (this.addresses.size > MAX_REMEMBERED_ADDRESSES) {
      const oldest = this.addresses.keys().next().value;
      if (oldest !== undefined) this.addresses.delete(oldest);
    }
  }

  /** Stored and sent to the responders, de-duplicated with what the heartbeats show. */
  recordAgentAlert(alert: AgentAlert): Promise<void> {
    return this.monitor().recordAgentAlert(alert);
  }
}
