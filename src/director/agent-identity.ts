/**
 * How the director recognises an agent over TLS. Agent certificates carry CN = agent id and no IP
 * address (the VM's address is only known after createVm), so the usual hostname check would
 * reject them. The director's HTTPS client verifies the chain against the director's CA as usual
 * and, instead of the hostname, checks that the certificate names the agent it meant to reach:
 * pass `checkServerIdentity: agentServerIdentityCheck(agentId)` in the request's TLS options.
 */
import type { PeerCertificate } from 'node:tls';
import { DIRECTOR_CLIENT_NAME, issueAgentCertificates, type CertificateAuthority } from '../common/pki.js';
import type { AgentCredentials } from './deploy/instance-deps.js';

export function agentServerIdentityCheck(agentId: string): (host: string, cert: PeerCertificate) => Error | undefined {
  return (host, cert) => {
    const cn = cert.subject?.CN;
    const names = Array.isArray(cn) ? cn : [cn];
    if (names.includes(agentId)) return undefined;
    return new Error(
      `The agent at ${host} presented a certificate for "${names.join(', ') || 'nobody'}" instead of agent ${agentId}; ` +
        'another VM may have taken this address. Check the VM with "bosun vms" and recreate the instance if needed.',
    );
  };
}

/**
 * The credentials of a new VM's agent, issued afresh for every createVm (a recreated or resurrected
 * VM gets a new agent id, a new key and new certificates; nothing is reused). CN = agent id, no IP:
 * the VM's address is only known after createVm, see agentServerIdentityCheck above.
 */
export function agentCredentialIssuer(ca: CertificateAuthority, keys: { take(): string | undefined } | null): (agentId: string) => AgentCredentials {
  return (agentId) => {
    const keyPem = keys?.take();
    const certs = issueAgentCertificates(ca, agentId, keyPem === undefined ? {} : { keyPem });
    return { caPem: ca.certPem, ...certs, directorClientName: DIRECTOR_CLIENT_NAME };
  };
}
