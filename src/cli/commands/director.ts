import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { globalOptions } from '../global-options.js';

export function registerDirectorCommand(program: Command, context: CliContext): void {
  program
    .command('director')
    .description('run the director in the foreground (`bosun up` starts it in the background)')
    .requiredOption('--data-dir <dir>', 'where the director keeps its state')
    .option('--listen <host:port>', 'API address besides the bridge address (default 127.0.0.1:25555)')
    .option('--config <file>', 'director config file (YAML)')
    .action(async (opts: { dataDir: string; listen?: string; config?: string }, cmd: Command) => {
      // commander hands a --config after the subcommand to the global option of the same name;
      // for this command it can only mean the director config file.
      const configFile = opts.config ?? globalOptions(cmd).config;
      // Loaded on demand: the director pulls in the store, the cloud and the registry, which the
      // other commands never need.
      const { runDirector } = await import('../../director/daemon/run-director.js');
      await runDirector({ dataDir: opts.dataDir, listen: opts.listen, configFile }, context.env);
    });
}
