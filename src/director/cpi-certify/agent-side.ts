/**
 * The director-like side of a certification: a throw-away CA, credentials for each VM's agent,
 * and an HTTPS agent client with the director's client certificate (the director's own pieces).
 */
import type { AgentEnv } from '../../cloud/cloud.js';
import type { AgentApi } from '../../common/contracts/agent-protocol.js';
import { createCertificateAuthority, issueDirectorClientCertificate, type CertificateAuthority } from '../../common/pki.js';
import { pollUntil } from '../../common/waiting.js';
import { agentCredentialIssuer } from '../agent-identity.js';
import { HttpAgentConnector } from '../agent-client/http-agent-connector.js';

export class CertifyAgentSide {
  private readonly ca: CertificateAuthority = createCertificateAuthority('bosun cpi-certify CA', 2);
  private readonly issue = agentCredentialIssuer(this.ca, null);
  private readonly connector: HttpAgentConnector;

  constructor(private readonly directorUrl: string) {
    const client = issueDirectorClientCertificate(this.ca);
    this.connector = new HttpAgentConnector({ caPem: this.ca.certPem, certPem: client.certPem, keyPem: client.keyPem, requestTimeoutMs: 10_000 });
  }

  /** The create_vm env of a new agent (its heartbeats go to directorUrl, where nobody needs to listen). */
  agentEnv(agentId: string): AgentEnv {
    const c = this.issue(agentId);
    return {
      directorUrl: this.directorUrl,
      caPem: c.caPem,
      certPem: c.certPem,
      keyPem: c.keyPem,
      ...(c.clientCertPem === undefined ? {} : { clientCertPem: c.clientCertPem }),
      ...(c.directorClientName === undefined ? {} : { directorClientName: c.directorClientName }),
      heartbeatIntervalMs: 5_000,
    };
  }

  agent(agentId: string, vmCid: string, ip: string): AgentApi {
    return this.connector.connect({ agentId, vmCid, ip });
  }

  /** Pings until the agent answers (some CPIs recreate the VM on attach: the agent restarts). */
  async waitForAgent(agent: AgentApi, timeoutMs: number): Promise<void> {
    await pollUntil(async () => ((await agent.ping()) === 'pong' ? true : undefined), { timeoutMs, intervalMs: 250, maxIntervalMs: 2_000, what: 'the agent answers ping' });
  }

  close(): void {
    this.connector.close();
  }
}
