import { Command } from 'commander';
import type { GlobalOptions } from './output.js';
import { registerValidateCommand } from './commands/validate.js';

/**
 * Builds the `bosun` command tree. Each command group lives in its own file under commands/ and
 * exports one `register…Command(program)` function; global flags (-d, --json, -n) are read with
 * `globalOptions(command)`.
 */
export function buildProgram(): Command {
  const program = new Command('bosun')
    .description('Deploy stateful Docker containers onto a fleet of VMs from one manifest, and keep them alive.')
    .option('-d, --deployment <name>', 'deployment to act on')
    .option('--json', 'machine-readable JSON output')
    .option('-n, --non-interactive', 'do not ask for confirmation')
    .showHelpAfterError()
    .exitOverride();

  registerValidateCommand(program);
  return program;
}

export function globalOptions(command: Command): GlobalOptions {
  let root = command;
  while (root.parent) root = root.parent;
  return root.opts<GlobalOptions>();
}
