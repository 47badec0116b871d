import type { Command } from 'commander';
import { InvalidInputError } from '../common/errors.js';
import type { TaskInfo } from '../common/contracts/api.js';
import { DirectorClient } from './client.js';
import type { CliContext } from './context.js';
import type { GlobalOptions } from './output.js';
import { printJson } from './output.js';
import { globalOptions } from './global-options.js';
import { followTaskOrFail, type FollowedTask } from './task-stream.js';
import { readTarget, targetConfigPath } from './target.js';

/** What a command that talks to the director works with. */
export interface Session {
  client: DirectorClient;
  options: GlobalOptions;
  context: CliContext;
}

export async function openSession(command: Command, context: CliContext): Promise<Session> {
  const options = globalOptions(command);
  const target = await readTarget(targetConfigPath(options, context.env, context.homeDir));
  return { client: new DirectorClient(target), options, context };
}

export function requireDeployment(options: GlobalOptions): string {
  if (!options.deployment)
    throw new InvalidInputError(
      'This command acts on one deployment: name it with -d NAME (see `bosun deployments`).',
    );
  return options.deployment;
}

/** Streams a task the command just queued; with --json prints `{ task, events }` once at the end. */
export async function runTask(
  session: Session,
  task: TaskInfo,
  options: { printJson?: boolean } = {},
): Promise<FollowedTask> {
  const followed = await followTaskOrFail(session.client, session.context, task, {
    quiet: Boolean(session.options.json),
  });
  if (session.options.json && options.printJson !== false) printJson(followed);
  return followed;
}
