/**
 * cpi-certify's stand-in for the director's heartbeat route, for CPIs that do not tell a VM's
 * address (a dynamic network: create_vm answers no IP): the agents post their heartbeats here, as
 * they would to a director (mutual TLS, the client certificate's CN the agent id of the path), and
 * a heartbeat's `ip` is where the VM's agent is reached.
 */
import { createServer, type Server } from 'node:https';
import { isIP, type AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { issueCertificate, type CertificateAuthority } from '../../common/pki.js';

const ROUTE = /^\/internal\/v1\/agents\/([^/]+)\/(heartbeat|alerts)$/;
const MAX_BODY_BYTES = 1024 * 1024;

export class HeartbeatListener {
  private readonly addresses = new Map<string, string>();

  private constructor(
    private readonly server: Server,
    /** The URL the agents are given as the director's. */
    readonly url: string,
  ) {}

  /** Listens on `host:port` (port 0: any free one) with a server certificate of the CA for `host`. */
  static async start(ca: CertificateAuthority, host: string, port: number): Promise<HeartbeatListener> {
    const cert = issueCertificate(ca, {
      commonName: 'bosun cpi-certify',
      usage: 'server',
      ...(isIP(host) === 0 ? { dnsNames: [host] } : { ipAddresses: [host] }),
    });
    const holder: { listener?: HeartbeatListener } = {};
    const server = createServer({ cert: cert.certPem, key: cert.keyPem, ca: ca.certPem, requestCert: true, rejectUnauthorized: true }, (req, res) => {
      const match = ROUTE.exec(req.url ?? '');
      const agentId = match?.[1] === undefined ? undefined : decodeURIComponent(match[1]);
      const cn = (req.socket as TLSSocket).getPeerCertificate().subject?.CN;
      if (req.method !== 'POST' || agentId === undefined) return void res.writeHead(404).end();
      if (cn !== agentId) return void res.writeHead(403).end();
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size <= MAX_BODY_BYTES) chunks.push(chunk);
      });
      req.on('end', () => {
        if (match?.[2] === 'heartbeat') holder.listener?.record(agentId, Buffer.concat(chunks).toString('utf8'));
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    const bound = (server.address() as AddressInfo).port;
    const listener = new HeartbeatListener(server, `https://${isIP(host) === 6 ? `[${host}]` : host}:${bound}`);
    holder.listener = listener;
    return listener;
  }

  /** The address the agent's heartbeats told, or null when none came. */
  addressOf(agentId: string): string | null {
    return this.addresses.get(agentId) ?? null;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private record(agentId: string, text: string): void {
    try {
      const hb = JSON.parse(text) as { agentId?: unknown; ip?: unknown };
      if (hb.agentId === agentId && typeof hb.ip === 'string' && isIP(hb.ip) !== 0) this.addresses.set(agentId, hb.ip);
    } catch {
      // not JSON: nothing to learn from it
    }
  }
}
