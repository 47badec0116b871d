import { InvalidInputError } from '../../common/errors.js';
import { ExitError, EXIT_USER_ERROR } from '../output.js';
import type { Session } from '../session.js';

/**
 * Asks before a change: -n skips the question; without a terminal (CI) the command refuses rather
 * than guessing, and says how to go on.
 */
export async function confirm(session: Session, question: string): Promise<void> {
  if (session.options.nonInteractive) return;
  if (!session.context.stdinIsTty) {
    throw new InvalidInputError(
      `${question} Refusing to go on without confirmation: stdin is not a terminal. Pass -n to go on without asking (e.g. in CI).`,
    );
  }
  const answer = (await session.context.prompt(`${question} Continue? [yN] `)).trim().toLowerCase();
  if (answer !== 'y' && answer !== 'yes')
    throw new ExitError(EXIT_USER_ERROR, 'Cancelled: nothing was changed.');
}
