import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../../src/common/logger.js';
import {
  createCertificateAuthority,
  issueCertificate,
  type CertificateAuthority,
} from '../../../src/common/pki.js';
import { TokenAuthenticator } from '../../../src/director/api/auth.js';
import { ApiServer, type ApiServerOptions } from '../../../src/director/api/server.js';
import { FakeDirectorService } from './fake-director-service.js';

export interface TestServer {
  url: string;
  port: number;
  ca: CertificateAuthority;
  token: string;
  fake: FakeDirectorService;
  server: ApiServer;
  close(): Promise<void>;
}

// One CA for the whole test process: RSA key generation is the slow part.
let sharedCa: CertificateAuthority | undefined;
export function testCa(): CertificateAuthority {
  sharedCa ??= createCertificateAuthority('test CA');
  return sharedCa;
}

/** A real HTTPS director API over a FakeDirectorService, on 127.0.0.1 and a free port. */
export async function startTestServer(
  extra: Pick<ApiServerOptions, 'limits' | 'registryStorageDir'> = {},
): Promise<TestServer> {
  const ca = testCa();
  const cert = issueCertificate(ca, { commonName: 'director', ipAddresses: ['127.0.0.1'], usage: 'server' });
  const token = 'test-token-0123456789';
  const fake = new FakeDirectorService();
  const uploadDir = await mkdtemp(join(tmpdir(), 'bosun-api-test-'));
  const server = await ApiServer.create({
    director: fake,
    tls: { certPem: cert.certPem, keyPem: cert.keyPem, caPem: ca.certPem },
    authenticator: new TokenAuthenticator([{ user: 'admin', token }]),
    logger: silentLogger,
    uploadDir,
    version: '0.1.0-test',
    ...extra,
  });
  const [bound] = await server.listen([{ host: '127.0.0.1', port: 0 }]);
  const port = bound?.port ?? 0;
  return {
    url: `https://127.0.0.1:${port}`,
    port,
    ca,
    token,
    fake,
    server,
    close: async () => {
      await server.close();
      await rm(uploadDir, { recursive: true, force: true });
    },
  };
}

export interface CallOptions {
  token?: string;
  body?: unknown;
  rawBody?: Buffer;
  contentType?: string;
  cert?: { certPem: string; keyPem: string };
}

export function call(
  srv: TestServer,
  method: string,
  path: string,
  options: CallOptions = {},
): Promise<{ status: number; body: unknown; text: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const payload =
      options.rawBody ?? (options.body === undefined ? undefined : Buffer.from(JSON.stringify(options.body)));
    const headers: Record<string, string> = {};
    if (options.token) headers['authorization'] = `Bearer ${options.token}`;
    if (payload) headers['content-type'] = options.contentType ?? 'application/json';
    const req = request(
      {
        host: '127.0.0.1',
        port: srv.port,
        method,
        path,
        ca: srv.ca.certPem,
        headers,
        cert: options.cert?.certPem,
        key: options.cert?.keyPem,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown = text;
          try {
            body = JSON.parse(text);
          } catch {
            // not JSON (metrics)
          }
          resolve({ status: res.statusCode ?? 0, body, text, headers: res.headers });
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}
