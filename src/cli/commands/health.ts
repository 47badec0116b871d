import type { Command } from 'commander';
import { InvalidInputError } from '../../common/errors.js';
import type { Alert, AuditEvent, LockInfo } from '../../common/contracts/api.js';
import type { CliContext } from '../context.js';
import { printJson, printRows } from '../output.js';
import { openSession } from '../session.js';
import { parseId } from './args.js';

export function registerHealthCommands(program: Command, context: CliContext): void {
  program
    .command('events')
    .description('audit events, newest first (-d: of one deployment)')
    .option('--limit <n>', 'how many events', '50')
    .action(async (opts: { limit: string }, cmd: Command) => {
      const s = await openSession(cmd, context);
      const events = await s.client.get<AuditEvent[]>('/api/v1/events', {
        deployment: s.options.deployment,
        limit: parseId(opts.limit, '--limit'),
      });
      printRows(
        events,
        [
          { header: 'ID', value: (e) => e.id },
          { header: 'Time', value: (e) => e.time },
          { header: 'User', value: (e) => e.user },
          { header: 'Action', value: (e) => e.action },
          { header: 'Object', value: (e) => `${e.objectType} ${e.objectName}` },
          { header: 'Deployment', value: (e) => e.deployment },
          { header: 'Instance', value: (e) => e.instance },
          { header: 'Task', value: (e) => e.taskId },
          { header: 'Error', value: (e) => e.error },
        ],
        s.options,
      );
    });

  program
    .command('alerts')
    .description('health alerts, newest first (-d: of one deployment)')
    .option('--limit <n>', 'how many alerts', '50')
    .action(async (opts: { limit: string }, cmd: Command) => {
      const s = await openSession(cmd, context);
      const alerts = await s.client.get<Alert[]>('/api/v1/alerts', {
        deployment: s.options.deployment,
        limit: parseId(opts.limit, '--limit'),
      });
      printRows(
        alerts,
        [
          { header: 'Time', value: (a) => a.createdAt },
          { header: 'Severity', value: (a) => a.severity },
          { header: 'Category', value: (a) => a.category },
          { header: 'Deployment', value: (a) => a.deployment },
          { header: 'Instance', value: (a) => a.instance },
          { header: 'Title', value: (a) => a.title },
          { header: 'Summary', value: (a) => a.summary },
        ],
        s.options,
      );
    });

  program
    .command('locks')
    .description('locks held by running tasks')
    .action(async (_opts, cmd: Command) => {
      const s = await openSession(cmd, context);
      const locks = await s.client.get<LockInfo[]>('/api/v1/locks');
      printRows(
        locks,
        [
          { header: 'Lock', value: (l) => l.name },
          { header: 'Task', value: (l) => l.taskId },
          { header: 'Expires', value: (l) => l.expiresAt },
        ],
        s.options,
      );
    });

  program
    .command('update-resurrection <state>')
    .description('turn the resurrector on or off (for -d NAME, else for every deployment)')
    .action(async (state: string, _opts, cmd: Command) => {
      if (state !== 'on' && state !== 'off')
        throw new InvalidInputError(`update-resurrection takes "on" or "off", got "${state}".`);
      const s = await openSession(cmd, context);
      const result = await s.client.put<{ enabled: boolean; deployment?: string }>('/api/v1/resurrection', {
        enabled: state === 'on',
        ...(s.options.deployment ? { deployment: s.options.deployment } : {}),
      });
      if (s.options.json) printJson(result);
      else
        process.stdout.write(
          `Resurrection is ${result.enabled ? 'on' : 'off'} for ${result.deployment ? `deployment ${result.deployment}` : 'every deployment'}.\n`,
        );
    });
}
