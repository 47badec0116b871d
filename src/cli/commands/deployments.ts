import type { Command } from 'commander';
import type { DeploymentSummary, TaskRef } from '../../common/contracts/api.js';
import type { CliContext } from '../context.js';
import { seg } from '../client.js';
import { printJson, printRows } from '../output.js';
import { openSession, requireDeployment, runTask } from '../session.js';
import { confirm } from './confirm.js';

export function registerDeploymentsCommands(program: Command, context: CliContext): void {
  program
    .command('deployments')
    .description('list deployments')
    .action(async (_opts, cmd: Command) => {
      const s = await openSession(cmd, context);
      const rows = await s.client.get<DeploymentSummary[]>('/api/v1/deployments');
      printRows(
        rows,
        [
          { header: 'Name', value: (d) => d.name },
          { header: 'Instances', value: (d) => d.instances },
          { header: 'Last deployed', value: (d) => d.lastDeployedAt },
          { header: 'Resurrection', value: (d) => (d.resurrection ? 'on' : 'off') },
        ],
        s.options,
      );
    });

  program
    .command('manifest')
    .description('print the last successfully deployed manifest of a deployment (-d); secret-looking values are <redacted>')
    .option('--show-secrets', 'print secret-looking values (env names with PASSWORD, SECRET, TOKEN, KEY, CREDENTIAL) as they are')
    .action(async (opts: { showSecrets?: boolean }, cmd: Command) => {
      const s = await openSession(cmd, context);
      const { manifest } = await s.client.get<{ manifest: string }>(
        `/api/v1/deployments/${seg(requireDeployment(s.options))}/manifest`,
        opts.showSecrets === true ? { show_secrets: 1 } : {},
      );
      if (s.options.json) printJson({ manifest });
      else process.stdout.write(manifest.endsWith('\n') ? manifest : `${manifest}\n`);
    });

  program
    .command('delete-deployment')
    .description('delete a deployment (-d): its VMs are deleted, its persistent disks orphaned')
    .option('--force', 'keep going when a step fails (e.g. an agent does not answer)')
    .action(async (opts: { force?: boolean }, cmd: Command) => {
      const s = await openSession(cmd, context);
      const name = requireDeployment(s.options);
      await confirm(s, `Delete deployment ${name} and all its VMs?`);
      const { task } = await s.client.delete<TaskRef>(`/api/v1/deployments/${seg(name)}`, {
        force: opts.force,
      });
      await runTask(s, task);
    });
}
