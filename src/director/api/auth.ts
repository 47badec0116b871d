import { createHash, timingSafeEqual } from 'node:crypto';
import { UnauthorizedError } from '../../common/errors.js';

/** How to get a token, said in every 401 so that the person knows what to do next. */
export const LOGIN_HINT =
  'run `bosun up` on the director machine (it writes the CLI target, with the token, to ~/.bosun/config), ' +
  'or point the CLI at a target config with `--config FILE` or BOSUN_CONFIG';

interface TokenEntry {
  user: string;
  hash: Buffer;
}

/**
 * Checks `Authorization: Bearer <token>` headers. Only SHA-256 digests of the tokens are kept in
 * memory, compared in constant time, so that neither a log line nor a timing difference leaks one.
 */
export class TokenAuthenticator {
  private readonly entries: TokenEntry[];

  constructor(tokens: Array<{ user: string; token: string }>) {
    this.entries = tokens.map(({ user, token }) => ({ user, hash: digest(token) }));
  }

  /** Returns the user behind the token; throws UnauthorizedError with a how-to-log-in message. */
  authenticate(authorization: string | undefined): string {
    if (!authorization) {
      throw new UnauthorizedError(
        `This director needs an API token (Authorization: Bearer <token>): ${LOGIN_HINT}.`,
      );
    }
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (!match?.[1]) {
      throw new UnauthorizedError(`The Authorization header must be "Bearer <token>": ${LOGIN_HINT}.`);
    }
    const given = digest(match[1]);
    for (const entry of this.entries) {
      if (timingSafeEqual(entry.hash, given)) return entry.user;
    }
    throw new UnauthorizedError(
      `The director did not accept the API token (wrong director or an old token): ${LOGIN_HINT}.`,
    );
  }
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}
