import { request } from 'node:https';
import type { AgentAlert, Heartbeat } from '../common/contracts/agent-protocol.js';
import type { AgentSettings } from '../common/contracts/agent-settings.js';
import { errorMessage } from '../common/errors.js';

const TIMEOUT_MS = 5000;

/** Posts heartbeats and alerts to the director, with the agent's certificate as client cert. */
export class DirectorClient {
  constructor(private readonly settings: AgentSettings) {}

  heartbeat(hb: Heartbeat): Promise<void> {
    return this.post(`/internal/v1/agents/${encodeURIComponent(this.settings.agentId)}/heartbeat`, hb);
  }

  alert(alert: AgentAlert): Promise<void> {
    return this.post(`/internal/v1/agents/${encodeURIComponent(this.settings.agentId)}/alerts`, alert);
  }

  private post(path: string, body: unknown): Promise<void> {
    const url = new URL(path, this.settings.directorUrl);
    const payload = Buffer.from(JSON.stringify(body));
    return new Promise((resolve, reject) => {
      const req = request(
        url,
        {
          method: 'POST',
          ca: this.settings.caPem,
          cert: this.settings.clientCertPem ?? this.settings.certPem,
          key: this.settings.keyPem,
          headers: { 'content-type': 'application/json', 'content-length': payload.length },
          timeout: TIMEOUT_MS,
        },
        (res) => {
          res.resume();
          res.on('end', () => {
            const status = res.statusCode ?? 0;
            if (status >= 200 && status < 300) resolve();
            else reject(new Error(`the director answered HTTP ${status} for ${url.pathname}`));
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer from the director at ${url.origin} within ${TIMEOUT_MS} ms`)));
      req.on('error', (err) => reject(new Error(`cannot reach the director at ${url.origin}: ${errorMessage(err)}`)));
      req.end(payload);
    });
  }
}
