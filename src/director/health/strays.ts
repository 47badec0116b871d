/**
 * What runs that nobody owns: agents that heartbeat but belong to no instance (rogue agents) and
 * VMs the cloud has that no instance owns. Both alert once they were seen for `rogueAlertMs`.
 */
import type { Cloud } from '../../cloud/cloud.js';
import type { Logger } from '../../common/logger.js';
import { errorMessage } from '../../common/errors.js';
import type { AgentRegistry } from './agent-registry.js';
import { Severity, type AlertCenter } from './alerts.js';
import type { HealthConfig } from './config.js';
import type { MonitoredInstance } from './ports.js';

export interface StrayDeps {
  cloud: Pick<Cloud, 'listVms'>;
  alerts: AlertCenter;
  agents: AgentRegistry;
  config: Pick<HealthConfig, 'heartbeatTimeoutMs' | 'rogueAlertMs'>;
  logger: Logger;
  /** Forgets an agent everywhere (registry and its alert keys). */
  forgetAgent(agentId: string): void;
}

export class StrayFinder {
  private readonly unknownVmSince = new Map<string, number>();
  private readonly rogueSince = new Map<string, number>();

  constructor(private readonly deps: StrayDeps) {}

  forget(agentId: string): void {
    this.rogueSince.delete(agentId);
  }

  async findRogueAgents(now: number): Promise<void> {
    const { agents, config } = this.deps;
    for (const { agentId, seenAt: t, heartbeat: hb } of agents.heartbeating()) {
      if (agents.owns(agentId) || now - t >= config.heartbeatTimeoutMs) {
        this.rogueSince.delete(agentId);
        // Forget long-silent agents nobody owns (old VMs that were replaced) so memory stays bounded.
        if (!agents.owns(agentId) && now - t >= 2 * config.heartbeatTimeoutMs) this.deps.forgetAgent(agentId);
        continue;
      }
      const since = this.rogueSince.get(agentId) ?? now;
      this.rogueSince.set(agentId, since);
      if (now - since >= config.rogueAlertMs) {
        await this.deps.alerts.raise(
          {
            severity: Severity.warning,
            category: 'rogue_agent',
            title: 'Unknown agent',
            summary: `Agent ${agentId} on VM ${hb.vmCid} sends heartbeats but belongs to no instance this director knows; delete that VM (\`bosun cck\` lists it) or find who created it.`,
            deployment: hb.deployment,
          },
          { key: `rogue:${agentId}` },
        );
      }
    }
  }

  async findUnknownVms(instances: readonly MonitoredInstance[], now: number): Promise<void> {
    const listVms = this.deps.cloud.listVms?.bind(this.deps.cloud);
    if (!listVms) return;
    let cids: string[];
    try {
      cids = await listVms();
    } catch (err) {
      this.deps.logger.warn(`could not list the cloud's VMs: ${errorMessage(err)}`);
      return;
    }
    const owned = new Set(instances.map((i) => i.vmCid).filter((c): c is string => c !== null));
    const present = new Set(cids);
    for (const cid of [...this.unknownVmSince.keys()]) {
      if (!present.has(cid) || owned.has(cid)) {
        this.unknownVmSince.delete(cid);
        this.deps.alerts.clear(`unknown_vm:${cid}`);
      }
    }
    for (const cid of cids) {
      if (owned.has(cid)) continue;
      const since = this.unknownVmSince.get(cid) ?? now;
      this.unknownVmSince.set(cid, since);
      if (now - since >= this.deps.config.rogueAlertMs) {
        await this.deps.alerts.raise(
          {
            severity: Severity.warning,
            category: 'unknown_vm',
            title: 'Unknown VM',
            summary: `The cloud has VM ${cid} that no instance owns; \`bosun -d DEPLOYMENT cck\` can delete it.`,
          },
          { key: `unknown_vm:${cid}` },
        );
      }
    }
  }
}
