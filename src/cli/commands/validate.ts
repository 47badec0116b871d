import type { Command } from 'commander';

export function registerValidateCommand(program: Command): void {
  program
    .command('validate <manifest>')
    .description('check a deployment manifest and print a summary of what it describes')
    .action(() => {
      throw new Error('not implemented yet');
    });
}
