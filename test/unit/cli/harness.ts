import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { CommanderError } from 'commander';
import type { CliContext } from '../../../src/cli/context.js';
import { exitCodeFor, reportError, type GlobalOptions } from '../../../src/cli/output.js';
import { buildProgram } from '../../../src/cli/program.js';
import { startTestServer, type TestServer } from '../api/test-server.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface CliHarness {
  srv: TestServer;
  dir: string;
  configPath: string;
  context: CliContext;
  answers: string[];
  run(...args: string[]): Promise<CliResult>;
  close(): Promise<void>;
}

/**
 * Runs `bosun` commands in process (buildProgram().parseAsync) against a real HTTPS director API
 * over a FakeDirectorService, capturing stdout/stderr and the exit code main.ts would set.
 */
export async function startCli(): Promise<CliHarness> {
  const srv = await startTestServer();
  const dir = await mkdtemp(join(tmpdir(), 'bosun-cli-test-'));
  const configPath = join(dir, 'config');
  await writeFile(configPath, stringify({ url: srv.url, token: srv.token, caPem: srv.ca.certPem }), {
    mode: 0o600,
  });
  const answers: string[] = [];
  const context: CliContext = {
    env: { BOSUN_CONFIG: configPath },
    homeDir: dir,
    stdinIsTty: false,
    prompt: async () => answers.shift() ?? '',
    which: (c) => `/usr/bin/${c}`,
    isRoot: () => true,
    pollIntervalMs: 1,
    sleep: async () => undefined,
  };
  const run = (...args: string[]) => runCli(context, args);
  return {
    srv,
    dir,
    configPath,
    context,
    answers,
    run,
    close: async () => {
      await srv.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export async function runCli(context: CliContext, args: string[]): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const out = process.stdout.write.bind(process.stdout);
  const err = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((chunk: string | Uint8Array) => {
    stdout += chunk.toString();
    return true;
  }) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => {
    stderr += chunk.toString();
    return true;
  }) as typeof process.stderr.write;
  const program = buildProgram(context);
  program.configureOutput({ writeOut: (s) => (stdout += s), writeErr: (s) => (stderr += s) });
  let code = 0;
  try {
    await program.parseAsync(['node', 'bosun', ...args]);
  } catch (e) {
    if (e instanceof CommanderError) code = e.exitCode === 0 ? 0 : 1;
    else {
      reportError(e, program.opts<GlobalOptions>());
      code = exitCodeFor(e);
    }
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
  }
  return { code, stdout, stderr };
}
