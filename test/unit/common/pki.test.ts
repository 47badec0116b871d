import { once } from 'node:events';
import { createServer } from 'node:https';
import { request } from 'node:https';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { createCertificateAuthority, issueCertificate } from '../../../src/common/pki.js';

describe('pki', () => {
  it('issues certificates that a TLS server and client with the same CA accept, and refuses strangers', async () => {
    const ca = createCertificateAuthority();
    const server = issueCertificate(ca, { commonName: 'server', ipAddresses: ['127.0.0.1'], usage: 'server' });
    const client = issueCertificate(ca, { commonName: 'client', usage: 'client' });
    const other = issueCertificate(createCertificateAuthority('other'), { commonName: 'stranger', usage: 'client' });
    const srv = createServer(
      { cert: server.certPem, key: server.keyPem, ca: ca.certPem, requestCert: true, rejectUnauthorized: true },
      (_req, res) => res.end('ok'),
    );
    srv.listen(0, '127.0.0.1');
    await once(srv, 'listening');
    const port = (srv.address() as AddressInfo).port;
    const get = (cert?: { certPem: string; keyPem: string }) =>
      new Promise<string>((resolve, reject) => {
        const req = request(
          { host: '127.0.0.1', port, ca: ca.certPem, cert: cert?.certPem, key: cert?.keyPem, path: '/' },
          (res) => {
            let body = '';
            res.on('data', (c: Buffer) => (body += c.toString()));
            res.on('end', () => resolve(body));
          },
        );
        req.on('error', reject);
        req.end();
      });
    try {
      expect(await get(client)).toBe('ok');
      await expect(get()).rejects.toThrow();
      await expect(get(other)).rejects.toThrow();
    } finally {
      srv.close();
    }
  });
});
