import { connect, createServer } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { createCertificateAuthority, issueCertificate } from '../../../src/common/pki.js';
import { agentServerIdentityCheck } from '../../../src/director/agent-identity.js';

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
