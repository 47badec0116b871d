import type { AgentApi } from './agent-protocol.js';

/** Where an agent can be reached; the connector turns it into an AgentApi. */
export interface AgentTarget {
  agentId: string;
  vmCid: string;
  /** The VM's address (local cloud); null for clouds whose agents are reached otherwise (fake). */
  ip: string | null;
}

/**
 * How the director reaches agents: over HTTPS with mutual TLS for real VMs
 * (src/director/agent-client/), in process for the fake cloud's agents.
 */
export interface AgentConnector {
  connect(target: AgentTarget): AgentApi;
}
