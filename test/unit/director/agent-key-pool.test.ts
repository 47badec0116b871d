import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/common/logger.js';
import { createCertificateAuthority, generateRsaKeyPem, issueCertificate } from '../../../src/common/pki.js';
import { AgentKeyPool } from '../../../src/director/agent-key-pool.js';

async function until<T>(get: () => T | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = get();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('agent keys generated ahead of time', () => {
  it('issues a certificate for a given key instead of generating one', async () => {
    const ca = createCertificateAuthority('test CA');
    const keyPem = await generateRsaKeyPem();
    const cert = issueCertificate(ca, { commonName: 'agent-1', usage: 'both', keyPem });
    expect(cert.keyPem).toBe(keyPem);
    const x509 = new X509Certificate(cert.certPem);
    const fromKey = createPublicKey(createPrivateKey(keyPem)).export({ type: 'spki', format: 'der' });
    expect(x509.publicKey.export({ type: 'spki', format: 'der' }).equals(fromKey)).toBe(true);
    expect(x509.verify(new X509Certificate(ca.certPem).publicKey)).toBe(true);
  });

  it('hands out distinct ready keys and refills; nothing after close', async () => {
    const pool = new AgentKeyPool(2, silentLogger);
    try {
      const first = await until(() => pool.take());
      const second = await until(() => pool.take());
      expect(first).toMatch(/BEGIN PRIVATE KEY/);
      expect(second).not.toBe(first);
      // Refilled in the background after each take.
      const third = await until(() => pool.take());
      expect([first, second]).not.toContain(third);
    } finally {
      pool.close();
    }
    expect(pool.take()).toBeUndefined();
  });
});
