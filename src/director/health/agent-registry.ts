/**
 * What the health monitor knows of each agent: when it was last seen and its last heartbeat (the
 * only copy the director keeps of it), and which instance an agent id belongs to.
 */
import type { Heartbeat } from '../../common/contracts/agent-protocol.js';
import { instanceName, type MonitoredInstance } from './ports.js';

interface AgentEntry {
  /** Last heartbeat, or when the monitor first expected one (a grace period for a new agent). */
  seenAt: number;
  heartbeat?: Heartbeat;
}

export class AgentRegistry {
  private readonly agents = new Map<string, AgentEntry>();
  private index = new Map<string, MonitoredInstance>();

  heartbeat(hb: Heartbeat, now: number): void {
    this.agents.set(hb.agentId, { seenAt: now, heartbeat: hb });
  }

  /** An agent the monitor expects but has not heard of gets one timeout of grace from `now`. */
  expect(agentId: string, now: number): number {
    const e = this.agents.get(agentId);
    if (e !== undefined) return e.seenAt;
    this.agents.set(agentId, { seenAt: now });
    return now;
  }

  lastHeartbeat(agentId: string): Heartbeat | undefined {
    return this.agents.get(agentId)?.heartbeat;
  }

  /** Sent a heartbeat less than `timeoutMs` ago. */
  isResponsive(agentId: string, now: number, timeoutMs: number): boolean {
    const e = this.agents.get(agentId);
    return e?.heartbeat !== undefined && now - e.seenAt < timeoutMs;
  }

  forget(agentId: string): void {
    this.agents.delete(agentId);
  }

  /** Agents that sent heartbeats, with when they were last seen. */
  heartbeating(): Array<{ agentId: string; seenAt: number; heartbeat: Heartbeat }> {
    const out: Array<{ agentId: string; seenAt: number; heartbeat: Heartbeat }> = [];
    for (const [agentId, e] of this.agents) if (e.heartbeat !== undefined) out.push({ agentId, seenAt: e.seenAt, heartbeat: e.heartbeat });
    return out;
  }

  /** Agents that belong to no instance and never heartbeated (their VM was replaced) are forgotten. */
  forgetExpectedButUnowned(): void {
    for (const [agentId, e] of [...this.agents]) if (!this.index.has(agentId) && e.heartbeat === undefined) this.agents.delete(agentId);
  }

  setInstances(instances: readonly MonitoredInstance[]): void {
    this.index = new Map(instances.filter((i) => i.agentId).map((i) => [i.agentId as string, i]));
  }

  owns(agentId: string): boolean {
    return this.index.has(agentId);
  }

  /** Where an agent runs, for alerts: its instance, else what its heartbeat says. */
  whereIs(agentId: string): { deployment: string | null; instance: string | null } {
    const inst = this.index.get(agentId);
    if (inst) return { deployment: inst.deployment, instance: instanceName(inst) };
    const hb = this.lastHeartbeat(agentId);
    if (hb?.group != null && hb.index != null) return { deployment: hb.deployment, instance: `${hb.group}/${hb.index}` };
    return { deployment: hb?.deployment ?? null, instance: null };
  }
}
