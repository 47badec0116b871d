import { Agent as HttpsAgent } from 'node:https';
import type { AgentApi } from '../../common/contracts/agent-protocol.js';
import { AGENT_PORT } from '../../common/contracts/agent-protocol.js';
import type { AgentConnector, AgentTarget } from '../../common/contracts/agent-connector.js';
import { InvalidInputError } from '../../common/errors.js';
import { HttpAgentClient } from './http-agent-client.js';

export interface HttpAgentConnectorOptions {
  caPem: string;
  /** The director's client certificate and key (signed by the same CA). */
  certPem: string;
  keyPem: string;
  port?: number;
  requestTimeoutMs?: number;
  taskTimeoutMs?: number;
}

/** Reaches the agents of real VMs over HTTPS with mutual TLS; one keep-alive pool for all of them. */
export class HttpAgentConnector implements AgentConnector {
  private readonly httpsAgent: HttpsAgent;

  constructor(private readonly options: HttpAgentConnectorOptions) {
    this.httpsAgent = new HttpsAgent({ keepAlive: true, maxSockets: 8, ca: options.caPem, cert: options.certPem, key: options.keyPem });
  }

  connect(target: AgentTarget): AgentApi {
    if (!target.ip) throw new InvalidInputError(`Agent ${target.agentId} (VM ${target.vmCid}) has no IP address; the HTTPS agent connector needs one.`);
    const o: ConstructorParameters<typeof HttpAgentClient>[0] = {
      agentId: target.agentId,
      baseUrl: `https://${target.ip}:${this.options.port ?? AGENT_PORT}`,
      caPem: this.options.caPem,
      certPem: this.options.certPem,
      keyPem: this.options.keyPem,
      httpsAgent: this.httpsAgent,
    };
    if (this.options.requestTimeoutMs !== undefined) o.requestTimeoutMs = this.options.requestTimeoutMs;
    if (this.options.taskTimeoutMs !== undefined) o.taskTimeoutMs = this.options.taskTimeoutMs;
    return new HttpAgentClient(o);
  }

  close(): void {
    this.httpsAgent.destroy();
  }
}
