import type { AgentAlert, Heartbeat } from '../common/contracts/agent-protocol.js';
import type { AgentSettings } from '../common/contracts/agent-settings.js';
import { HttpsClient, seg } from '../common/http/https-client.js';

/** A heartbeat is sent every few seconds: one that takes longer is late anyway. */
const TIMEOUT_MS = 5000;
/** The director answers these posts with nothing (204) or a short JSON. */
const MAX_RESPONSE_BYTES = 64 * 1024;

/** Posts heartbeats and alerts to the director, with the agent's client certificate (its server certificate only where an older director issued no client one). */
export class DirectorClient {
  private readonly http: HttpsClient;

  constructor(private readonly settings: AgentSettings) {
    this.http = new HttpsClient({
      baseUrl: settings.directorUrl,
      peerName: `the director at ${new URL(settings.directorUrl).origin}`,
      tls: { caPem: settings.caPem, certPem: settings.clientCertPem ?? settings.certPem, keyPem: settings.keyPem },
      timeoutMs: TIMEOUT_MS,
      maxResponseBytes: MAX_RESPONSE_BYTES,
      unreachableHint: 'the agent keeps running and sends again at the next heartbeat.',
    });
  }

  heartbeat(hb: Heartbeat): Promise<void> {
    return this.post(`/internal/v1/agents/${seg(this.settings.agentId)}/heartbeat`, hb);
  }

  alert(alert: AgentAlert): Promise<void> {
    return this.post(`/internal/v1/agents/${seg(this.settings.agentId)}/alerts`, alert);
  }

  close(): Promise<void> {
    return this.http.close();
  }

  private async post(path: string, body: unknown): Promise<void> {
    await this.http.json<unknown>('POST', path, { json: body });
  }
}
