import type { Command } from 'commander';
import type { JobRequest, TaskRef } from '../../common/contracts/api.js';
import type { CliContext } from '../context.js';
import { seg } from '../client.js';
import { openSession, requireDeployment, runTask } from '../session.js';
import { parseInstance } from './args.js';
import { confirm } from './confirm.js';

const ACTIONS: Array<{ action: JobRequest['action']; description: string; ask: boolean }> = [
  { action: 'start', description: 'start instances (all, a GROUP or GROUP/INDEX)', ask: false },
  {
    action: 'stop',
    description: 'stop the containers of instances (all, a GROUP or GROUP/INDEX)',
    ask: true,
  },
  {
    action: 'restart',
    description: 'restart the containers of instances (all, a GROUP or GROUP/INDEX)',
    ask: true,
  },
  {
    action: 'recreate',
    description: 'recreate the VMs of instances, keeping their persistent disks',
    ask: true,
  },
];

export function registerJobCommands(program: Command, context: CliContext): void {
  for (const { action, description, ask } of ACTIONS) {
    program
      .command(`${action} [instance]`)
      .description(description)
      .action(async (instance: string | undefined, _opts, cmd: Command) => {
        const s = await openSession(cmd, context);
        const name = requireDeployment(s.options);
        const target = parseInstance(instance, false);
        if (ask)
          await confirm(
            s,
            `${action[0]?.toUpperCase()}${action.slice(1)} ${instance ?? 'every instance'} of ${name}?`,
          );
        const { task } = await s.client.post<TaskRef>(`/api/v1/deployments/${seg(name)}/jobs`, {
          action,
          ...target,
        });
        await runTask(s, task);
      });
  }
}
