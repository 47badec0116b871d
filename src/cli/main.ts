#!/usr/bin/env node
import { CommanderError } from 'commander';
import { buildProgram } from './program.js';
import { exitCodeFor, reportError, type GlobalOptions } from './output.js';

async function main(): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(process.argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end here with exit code 0; usage errors were already printed.
      process.exitCode = err.exitCode === 0 ? 0 : 1;
      return;
    }
    reportError(err, program.opts<GlobalOptions>());
    process.exitCode = exitCodeFor(err);
  }
}

await main();
