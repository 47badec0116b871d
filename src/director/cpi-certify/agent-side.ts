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
import { HeartbeatListener } from './heartbeat-listener.js';

export class CertifyAgentSide {
  private readonly ca: CertificateAuthority = createCertificateAuthority('bosun cpi-certify CA', 2);
  private readonly issue = agentCredentialIssuer(this.ca, null);
  private readonly connector: HttpAgentConnector;
  /** Where the agents' heartbeats are received (startHeartbeats), for CPIs that tell no VM address. */
  private heartbeats: HeartbeatListener | null = null;

  constructor(private directorUrl: string) {
    const client = issueDirectorClientCertificate(this.ca);
    this.connector = new HttpAgentConnector({ caPem: this.ca.certPem, certPem: client.certPem, keyPem: client.keyPem, requestTimeoutMs: 10_000 });
  }

  /** Receives the agents' heartbeats on host:port from now on: they are given it as the director's URL. */
  async startHeartbeats(host: string, port: number): Promise<void> {
    this.heartbeats = await HeartbeatListener.start(this.ca, host, port);
    this.directorUrl = this.heartbeats.url;
  }

  get heartbeatUrl(): string | null {
    return this.heartbeats?.url ?? null;
  }

  /**
   * The VM's address its agent's heartbeat tells (a CPI whose create_vm answers none). Fails,
   * saying what that means, when no heartbeat came in time or none is received at all.
   */
  async addressFromHeartbeat(agentId: string, createVmNetworks: unknown, timeoutMs: number): Promise<string> {
    const listener = this.heartbeats;
    const told = `the CPI did not tell the VM's address (create_vm answered networks ${JSON.stringify(createVmNetworks)})`;
    if (listener === null) {
      throw new Error(`${told}; give --heartbeat-listen HOST:PORT, an address the VMs can reach, so that the agent's heartbeat tells it (as a bosun director learns it)`);
    }
    try {
      return await pollUntil(async () => listener.addressOf(agentId) ?? undefined, { timeoutMs, intervalMs: 250, what: 'a heartbeat' });
    } catch {
      throw new Error(
        `${told}, and the VM's agent never sent a heartbeat to ${listener.url} within ${timeoutMs / 1000} s: the agent did not start (check that the CPI writes create_vm's env into the agent settings verbatim) or cannot reach that address from the VM`,
      );
    }
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
    void this.heartbeats?.close();
  }
}
