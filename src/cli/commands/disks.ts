import type { Command } from 'commander';
import type { DiskInfo, TaskRef } from '../../common/contracts/api.js';
import type { CliContext } from '../context.js';
import { seg } from '../client.js';
import { printRows } from '../output.js';
import { openSession, runTask } from '../session.js';
import { confirm } from './confirm.js';

export function registerDiskCommands(program: Command, context: CliContext): void {
  program
    .command('disks')
    .description('list persistent disks (-d: of one deployment; --orphaned: only orphaned ones)')
    .option('--orphaned', 'only orphaned disks (kept after a deployment or instance went away)')
    .action(async (opts: { orphaned?: boolean }, cmd: Command) => {
      const s = await openSession(cmd, context);
      const disks =
        s.options.deployment && !opts.orphaned
          ? await s.client.get<DiskInfo[]>(`/api/v1/deployments/${seg(s.options.deployment)}/disks`)
          : (await s.client.get<DiskInfo[]>('/api/v1/disks', { orphaned: opts.orphaned })).filter(
              (d) => !s.options.deployment || d.deployment === s.options.deployment,
            );
      printRows(
        disks,
        [
          { header: 'Disk CID', value: (d) => d.diskCid },
          { header: 'Size (MiB)', value: (d) => d.sizeMiB },
          { header: 'Deployment', value: (d) => d.deployment },
          { header: 'Instance', value: (d) => d.instance },
          { header: 'State', value: (d) => d.state },
          { header: 'Created', value: (d) => d.createdAt },
          { header: 'Orphaned', value: (d) => d.orphanedAt },
        ],
        s.options,
      );
    });

  program
    .command('delete-disk <cid>')
    .description('delete an orphaned persistent disk (its data is gone for good)')
    .action(async (cid: string, _opts, cmd: Command) => {
      const s = await openSession(cmd, context);
      await confirm(s, `Delete disk ${cid} and the data on it?`);
      const { task } = await s.client.delete<TaskRef>(`/api/v1/disks/${seg(cid)}`);
      await runTask(s, task);
    });
}
