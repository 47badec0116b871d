/**
 * How the director recognises an agent over TLS. Agent certificates carry CN = agent id and no IP
 * address (the VM's address is only known after createVm), so the usual hostname check would
 * reject them. The director's HTTPS client verifies the chain against the director's CA as usual
 * and, instead of the hostname, checks that the certificate names the agent it meant to reach:
 * pass `checkServerIdentity: agentServerIdentityCheck(agentId)` in the request's TLS options.
 */
import type { PeerCertificate } from 'node:tls';

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
