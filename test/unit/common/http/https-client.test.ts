import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InternalError, NotFoundError, TimeoutError, UnavailableError } from '../../../../src/common/errors.js';
import { HttpsClient } from '../../../../src/common/http/https-client.js';
import { createCertificateAuthority, issueCertificate } from '../../../../src/common/pki.js';

/** The one HTTPS client against a local HTTPS server made here. */
describe('HttpsClient', () => {
  const ca = createCertificateAuthority('client test CA');
  const serverCert = issueCertificate(ca, { commonName: 'server', ipAddresses: ['127.0.0.1'], usage: 'server' });
  const clientCert = issueCertificate(ca, { commonName: 'the-client', usage: 'client' });
  let server: Server;
  let base: string;
  const seen: Array<{ url: string; peerCn?: unknown; bytes: number; headers: IncomingMessage['headers'] }> = [];

  const routes: Record<string, (req: IncomingMessage, res: ServerResponse, body: Buffer) => void> = {
    '/echo': (req, res, body) => json(res, 200, { method: req.method, url: req.url, body: body.length ? JSON.parse(body.toString()) as unknown : null }),
    '/missing': (_req, res) => json(res, 404, { error: { code: 'not_found', message: 'There is no deployment web.', details: { name: 'web' } } }),
    '/proxy-down': (_req, res) => res.writeHead(502, { 'content-type': 'text/plain' }).end('bad gateway'),
    '/hang': () => undefined,
    '/big': (_req, res) => json(res, 200, { blob: 'x'.repeat(2 * 1024 * 1024) }),
    '/big-chunked': (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      for (let i = 0; i < 40; i++) res.write('x'.repeat(64 * 1024));
      res.end();
    },
    '/upload': (_req, res, body) => json(res, 200, { received: body.length }),
  };

  beforeAll(async () => {
    server = createServer({ ca: ca.certPem, cert: serverCert.certPem, key: serverCert.keyPem, requestCert: true, rejectUnauthorized: false }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        const peer = (req.socket as TLSSocket).getPeerCertificate();
        seen.push({ url: req.url ?? '', peerCn: peer?.subject?.CN, bytes: body.length, headers: req.headers });
        const route = routes[(req.url ?? '').split('?')[0] ?? ''];
        if (route) route(req, res, body);
        else json(res, 404, { error: { code: 'not_found', message: 'no route' } });
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `https://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });

  const client = (o: Partial<ConstructorParameters<typeof HttpsClient>[0]> = {}): HttpsClient =>
    new HttpsClient({ baseUrl: base, peerName: 'the test server', tls: { caPem: ca.certPem }, ...o });

  it('sends and receives JSON, with query and headers, trusting the given CA', async () => {
    const c = client({ headers: { authorization: 'Bearer t' } });
    const res = await c.json<{ method: string; url: string; body: unknown }>('POST', '/echo', { json: { a: 1 }, query: { x: 'y', flag: true, off: false } });
    expect(res).toEqual({ method: 'POST', url: '/echo?x=y&flag=1', body: { a: 1 } });
    expect(seen.at(-1)?.headers.authorization).toBe('Bearer t');
    await c.close();
  });

  it('refuses a server whose certificate another CA issued (not retryable)', async () => {
    const c = client({ tls: { caPem: createCertificateAuthority('other').certPem }, untrustedHint: 'Refresh the CA.' });
    const err = await c.json('GET', '/echo').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnavailableError);
    expect(err).toMatchObject({ retryable: false, message: expect.stringMatching(/^The test server presented a certificate that cannot be trusted .*Refresh the CA\.$/) as unknown });
    await c.close();
  });

  it('presents a client certificate and lets the caller check the server identity', async () => {
    const checked: string[] = [];
    const c = client({
      tls: {
        caPem: ca.certPem,
        certPem: clientCert.certPem,
        keyPem: clientCert.keyPem,
        checkServerIdentity: (host, cert) => {
          checked.push(`${host}:${String(cert.subject.CN)}`);
          return undefined;
        },
      },
    });
    await c.json('GET', '/echo');
    expect(seen.at(-1)?.peerCn).toBe('the-client');
    expect(checked).toEqual(['127.0.0.1:server']);
    await c.close();

    const refusing = client({ tls: { caPem: ca.certPem, checkServerIdentity: () => new Error('not the server I meant') } });
    await expect(refusing.json('GET', '/echo')).rejects.toThrow(/not the server I meant/);
    await refusing.close();
  });

  it('rebuilds the typed error of an error body, details included', async () => {
    const c = client();
    const err = await c.json('GET', '/missing').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotFoundError);
    expect(err).toMatchObject({ code: 'not_found', httpStatus: 404, message: 'There is no deployment web.', details: { name: 'web' } });
    await expect(c.json('GET', '/proxy-down')).rejects.toMatchObject({ code: 'internal', httpStatus: 502, retryable: true, message: expect.stringMatching(/HTTP 502: bad gateway/) as unknown });
    await c.close();
  });

  it('gives up on a call after its timeout with a retryable TimeoutError', async () => {
    const c = client({ timeoutMs: 300 });
    const started = Date.now();
    const err = await c.json('GET', '/hang').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TimeoutError);
    expect(err).toMatchObject({ retryable: true, message: expect.stringMatching(/No answer from the test server within 300 ms \(GET \/hang\)/) as unknown });
    expect(Date.now() - started).toBeLessThan(3000);
    await c.close();
  });

  it('rejects with the reason of an aborted signal', async () => {
    const c = client();
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('the operator cancelled')), 100);
    await expect(c.json('GET', '/hang', { signal: controller.signal })).rejects.toThrow('the operator cancelled');
    await c.close();
  });

  it('caps the size of an answer, announced or streamed', async () => {
    const c = client({ maxResponseBytes: 1024 * 1024 });
    await expect(c.json('GET', '/big')).rejects.toBeInstanceOf(InternalError);
    await expect(c.json('GET', '/big-chunked')).rejects.toThrow(/larger than this client's limit of 1 MiB/);
    expect((await c.json<{ blob: string }>('GET', '/big', { maxResponseBytes: 4 * 1024 * 1024 })).blob.length).toBe(2 * 1024 * 1024);
    await c.close();
  });

  it('streams a request body of a known size', async () => {
    const c = client();
    const chunks = Array.from({ length: 16 }, () => Buffer.alloc(64 * 1024, 1));
    const res = await c.json<{ received: number }>('POST', '/upload', { body: { stream: Readable.from(chunks), size: 16 * 64 * 1024 }, headers: { 'content-type': 'application/octet-stream' } });
    expect(res.received).toBe(16 * 64 * 1024);
    await c.close();
  });

  it('says a server that refuses connections is not reachable (retryable)', async () => {
    const c = new HttpsClient({ baseUrl: 'https://127.0.0.1:1', peerName: 'the director at https://127.0.0.1:1', tls: { caPem: ca.certPem }, unreachableHint: 'start it with `bosun up`.' });
    await expect(c.json('GET', '/x')).rejects.toMatchObject({
      code: 'unavailable',
      retryable: true,
      message: 'The director at https://127.0.0.1:1 is not reachable (ECONNREFUSED); start it with `bosun up`.',
    });
    await c.close();
  });
});

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text);
}
