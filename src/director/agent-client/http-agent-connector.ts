import type { Dispatcher } from 'undici';
import type { AgentApi } from '../../common/contracts/agent-protocol.js';
import { AGENT_PORT } from '../../common/contracts/agent-protocol.js';
import type { AgentConnector, AgentTarget } from '../../common/contracts/agent-connector.js';
import { InvalidInputError } from '../../common/errors.js';
import { agentDispatcher, HttpAgentClient } from './http-agent-client.js';

export interface HttpAgentConnectorOptions {
  caPem: string;
  /** The director's client certificate and key (signed by the same CA). */
  certPem: string;
  keyPem: string;
  port?: number;
  requestTimeoutMs?: number;
  taskTimeoutMs?: number;
}

/** Pools kept for agents reached lately; an evicted pool's sockets close on their idle timeout. */
const MAX_POOLS = 4096;

/**
 * Reaches the agents of real VMs over HTTPS with mutual TLS. Connections are kept alive in one
 * pool per agent (the pool's TLS check names the agent, so a VM that took another's address is
 * refused even on a reused connection).
 */
export class HttpAgentConnector implements AgentConnector {
  private readonly pools = new Map<string, Dispatcher>();

  constructor(private readonly options: HttpAgentConnectorOptions) {}

  connect(target: AgentTarget): AgentApi {
    if (!target.ip) throw new InvalidInputError(`Agent ${target.agentId} (VM ${target.vmCid}) has no IP address; the HTTPS agent connector needs one.`);
    const baseUrl = `https://${target.ip.includes(':') ? `[${target.ip}]` : target.ip}:${this.options.port ?? AGENT_PORT}`;
    const o: ConstructorParameters<typeof HttpAgentClient>[0] = {
      agentId: target.agentId,
      baseUrl,
      caPem: this.options.caPem,
      certPem: this.options.certPem,
      keyPem: this.options.keyPem,
      dispatcher: this.pool(target.agentId, baseUrl),
    };
    if (this.options.requestTimeoutMs !== undefined) o.requestTimeoutMs = this.options.requestTimeoutMs;
    if (this.options.taskTimeoutMs !== undefined) o.taskTimeoutMs = this.options.taskTimeoutMs;
    return new HttpAgentClient(o);
  }

  close(): void {
    for (const pool of this.pools.values()) void pool.close().catch(() => undefined);
    this.pools.clear();
  }

  private pool(agentId: string, baseUrl: string): Dispatcher {
    const key = `${agentId} ${baseUrl}`;
    let pool = this.pools.get(key);
    if (pool) {
      this.pools.delete(key); // re-inserted last: the map's order is least recently used first
    } else {
      pool = agentDispatcher(agentId, this.options);
      const oldest = this.pools.size >= MAX_POOLS ? this.pools.keys().next().value : undefined;
      if (oldest !== undefined) this.pools.delete(oldest);
    }
    this.pools.set(key, pool);
    return pool;
  }
}
