import { stat } from 'node:fs/promises';
import type { Command } from 'commander';
import { InvalidInputError } from '../../common/errors.js';
import type { ImageInfo, TaskRef } from '../../common/contracts/api.js';
import type { CliContext } from '../context.js';
import { printRows } from '../output.js';
import { openSession, runTask } from '../session.js';

export function registerImageCommands(program: Command, context: CliContext): void {
  program
    .command('images')
    .description("list the images in the director's registry")
    .action(async (_opts, cmd: Command) => {
      const s = await openSession(cmd, context);
      const images = await s.client.get<ImageInfo[]>('/api/v1/images');
      printRows(
        images,
        [
          { header: 'Repository', value: (i) => i.repository },
          { header: 'Tags', value: (i) => i.tags.join(', ') },
        ],
        s.options,
      );
    });

  program
    .command('upload-image <file>')
    .description("push a `docker save` tarball into the director's registry (VMs pull it by its usual name)")
    .option('--name <name:tag>', 'name for the image when the tarball does not carry one (or to rename it)')
    .action(async (file: string, opts: { name?: string }, cmd: Command) => {
      const info = await stat(file).catch(() => null);
      if (!info?.isFile())
        throw new InvalidInputError(
          `Cannot read the image tarball ${file}: make one with \`docker save NAME:TAG -o ${file}\`.`,
        );
      const s = await openSession(cmd, context);
      const path = opts.name ? `/api/v1/images?name=${encodeURIComponent(opts.name)}` : '/api/v1/images';
      if (!s.options.json)
        process.stdout.write(`Uploading ${file} (${(info.size / 1048576).toFixed(1)} MiB)\n`);
      const { task } = await s.client.upload<TaskRef>(path, file, 'application/x-tar');
      await runTask(s, task);
    });
}
