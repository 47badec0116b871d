import { connect, createServer } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { X509Certificate } from 'node:crypto';
import { DIRECTOR_CLIENT_NAME, LEAF_VALID_DAYS, createCertificateAuthority, generateRsaKeyPem, issueCertificate } from '../../../src/common/pki.js';
import { agentCredentialIssuer, agentServerIdentityCheck } from '../../../src/director/agent-identity.js';

/** Connects to 127.0.0.1 trusting `caPem`, checking the server's identity as agent `agentId`. */
function handshake(port: number, caPem: string, agentId: string | null): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, ca: caPem, ...(agentId === null ? {} : { checkServerIdentity: agentServerIdentityCheck(agentId) }) }, () => {
      socket.end();
      resolve('ok');
    });
    socket.on('error', (err) => resolve(err.message));
  });
}

describe('agent TLS identity', () => {
  it('a CN-only agent certificate is accepted for its agent id, rejected for another, and fails the plain hostname check', async () => {
    const ca = createCertificateAuthority();
    const cert = issueCertificate(ca, { commonName: 'agent-1', usage: 'both' });
    const server = createServer({ cert: cert.certPem, key: cert.keyPem }, (s) => s.end());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const { port } = server.address() as AddressInfo;
      expect(await handshake(port, ca.certPem, 'agent-1')).toBe('ok');
      expect(await handshake(port, ca.certPem, 'agent-2')).toMatch(/certificate for "agent-1" instead of agent agent-2/);
      // Without the agent check, Node's default hostname check refuses the certificate (no IP SAN).
      expect(await handshake(port, ca.certPem, null)).not.toBe('ok');
      // A certificate from another CA is refused even with the right CN.
      const other = createCertificateAuthority();
      expect(await handshake(port, other.certPem, 'agent-1')).not.toBe('ok');
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});

describe('agent credentials', () => {
  it('issues a fresh key and certificates for every new agent: server-only, client-only, bounded lifetime', async () => {
    const ca = createCertificateAuthority('test CA');
    const readyKey = await generateRsaKeyPem();
    const pool = [readyKey];
    const issue = agentCredentialIssuer(ca, { take: () => pool.shift() });
    const first = issue('agent-1');
    const second = issue('agent-2');
    expect(first.keyPem).toBe(readyKey);
    expect(second.keyPem).not.toBe(first.keyPem);
    expect(first.directorClientName).toBe(DIRECTOR_CLIENT_NAME);
    const server = new X509Certificate(first.certPem);
    const client = new X509Certificate(first.clientCertPem ?? '');
    expect(server.subject).toContain('CN=agent-1');
    expect(client.subject).toContain('CN=agent-1');
    expect(server.serialNumber).not.toBe(new X509Certificate(second.certPem).serialNumber);
    // extKeyUsage: 1.3.6.1.5.5.7.3.1 = serverAuth, .2 = clientAuth.
    expect(server.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']);
    expect(client.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2']);
    const lifetimeDays = (Date.parse(server.validTo) - Date.now()) / 86_400_000;
    expect(lifetimeDays).toBeLessThanOrEqual(LEAF_VALID_DAYS);
    expect(lifetimeDays).toBeGreaterThan(LEAF_VALID_DAYS - 1);
    expect(() => issue(DIRECTOR_CLIENT_NAME)).toThrow(/director's own certificate name/);
  });
});
