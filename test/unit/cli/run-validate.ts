import { Command, CommanderError } from 'commander';
import { vi } from 'vitest';
import { registerValidateCommand } from '../../../src/cli/commands/validate.js';
import { exitCodeFor, reportError, type GlobalOptions } from '../../../src/cli/output.js';

/**
 * The root command as src/cli/program.ts builds it (same global flags), with only `validate`
 * registered, run in-process the way src/cli/main.ts runs it: output and exit code captured.
 */
export async function runValidate(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => ((stdout += String(c)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((c: string | Uint8Array) => ((stderr += String(c)), true));
  const program = new Command('bosun')
    .option('-d, --deployment <name>')
    .option('--json')
    .option('-n, --non-interactive')
    .exitOverride();
  registerValidateCommand(program);
  program.configureOutput({ writeOut: (s) => (stdout += s), writeErr: (s) => (stderr += s) });
  let code = 0;
  try {
    await program.parseAsync(['node', 'bosun', ...args]);
  } catch (err) {
    if (err instanceof CommanderError) code = err.exitCode === 0 ? 0 : 1;
    else {
      reportError(err, program.opts<GlobalOptions>());
      code = exitCodeFor(err);
    }
  } finally {
    vi.restoreAllMocks();
  }
  return { code, stdout, stderr };
}
