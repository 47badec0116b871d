/**
 * Which client the agent's API serves: the TLS handshake already requires a certificate issued by
 * the director's CA with clientAuth usage; on top of that the certificate must be the director's
 * own (CN = AgentSettings.directorClientName). Every agent also holds a CA-issued client
 * certificate (for its heartbeats): without this check, root on one VM could call every other agent.
 */
import type { TLSSocket } from 'node:tls';
import type { AgentSettings } from '../../common/contracts/agent-settings.js';
import { ForbiddenError, UnauthorizedError } from '../../common/errors.js';
import { DIRECTOR_CLIENT_NAME } from '../../common/pki.js';

export function allowedClientName(settings: Pick<AgentSettings, 'directorClientName'>): string {
  return settings.directorClientName ?? DIRECTOR_CLIENT_NAME;
}

/** Throws 401 (no verified certificate) or 403 (a verified certificate that is not the director's). */
export function requireDirectorClient(socket: Partial<TLSSocket>, allowedName: string): void {
  if (typeof socket.getPeerCertificate !== 'function' || socket.authorized !== true) {
    throw new UnauthorizedError("The agent's API serves only the director's client certificate (issued by the director's CA).");
  }
  const cn = socket.getPeerCertificate().subject?.CN;
  const names = Array.isArray(cn) ? cn : [cn];
  if (names.length !== 1 || names[0] !== allowedName) {
    throw new ForbiddenError(
      `The client certificate "${names.join(', ') || 'without a name'}" is not the director's ("${allowedName}"): ` +
        "the agent's API serves only the director; agents cannot call one another.",
    );
  }
}
