import { Command } from 'commander';
import { processContext, type CliContext } from './context.js';

import { registerCckCommand } from './commands/cck.js';
import { registerCpiCertifyCommand } from './commands/cpi-certify.js';
import { registerDeployCommand } from './commands/deploy.js';
import { registerDeploymentsCommands } from './commands/deployments.js';
import { registerDirectorCommand } from './commands/director.js';
import { registerDiskCommands } from './commands/disks.js';
import { registerDnsCommands } from './commands/dns.js';
import { registerHealthCommands } from './commands/health.js';
import { registerImageCommands } from './commands/images.js';
import { registerInstanceCommands } from './commands/instances.js';
import { registerJobCommands } from './commands/jobs.js';
import { registerLifecycleCommands } from './commands/lifecycle.js';
import { registerStemcellCommands } from './commands/stemcell.js';
import { registerCloudConfigCommands } from './commands/cloud-config.js';
import { registerTaskCommands } from './commands/tasks.js';
import { registerValidateCommand } from './commands/validate.js';

export { globalOptions } from './global-options.js';

export const CLI_VERSION = '0.1.0';

/**
 * Builds the `bosun` command tree. Each command group lives in its own file under commands/ and
 * exports one `register…Command(program, context)` function; global flags (-d, --json, -n,
 * --config) are read with `globalOptions(command)`. Tests pass their own context.
 */
export function buildProgram(context: CliContext = processContext()): Command {
  const program = new Command('bosun')
    .description(
      'Deploy stateful Docker containers onto a fleet of VMs from one manifest, and keep them alive.',
    )
    .option('-d, --deployment <name>', 'deployment to act on')
    .option('--json', 'machine-readable JSON output')
    .option('--wide', 'tables at full width: do not wrap long cells to the terminal')
    .option('-n, --non-interactive', 'do not ask for confirmation')
    .option('--config <file>', 'CLI target config (default: $BOSUN_CONFIG or ~/.bosun/config)')
    .version(CLI_VERSION, '--version')
    .showHelpAfterError()
    .exitOverride();

  registerLifecycleCommands(program, context);
  registerDirectorCommand(program, context);
  registerValidateCommand(program, context);
  registerDeployCommand(program, context);
  registerDeploymentsCommands(program, context);
  registerInstanceCommands(program, context);
  registerJobCommands(program, context);
  registerDiskCommands(program, context);
  registerDnsCommands(program, context);
  registerTaskCommands(program, context);
  registerHealthCommands(program, context);
  registerCckCommand(program, context);
  registerImageCommands(program, context);
  registerStemcellCommands(program, context);
  registerCpiCertifyCommand(program);
  registerCloudConfigCommands(program, context);
  return program;
}
