/**
 * The director's CA on disk (<dataDir>/ca/ca.pem + ca.key, key mode 0600): created on first start,
 * loaded afterwards, so agents created by an earlier run keep trusting the director.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createCertificateAuthority } from '../common/pki.js';
import type { CertificateAuthority } from '../common/pki.js';

export function loadOrCreateCertificateAuthority(dataDir: string): CertificateAuthority {
  const dir = join(dataDir, 'ca');
  const certPath = join(dir, 'ca.pem');
  const keyPath = join(dir, 'ca.key');
  if (existsSync(certPath) && existsSync(keyPath)) {
    return { certPem: readFileSync(certPath, 'utf8'), keyPem: readFileSync(keyPath, 'utf8') };
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const ca = createCertificateAuthority();
  writeFileSync(keyPath, ca.keyPem, { mode: 0o600 });
  writeFileSync(certPath, ca.certPem, { mode: 0o644 });
  return ca;
}
