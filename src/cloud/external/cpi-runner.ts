/**
 * Runs a CPI executable for one call: a fresh process with a minimal environment, the request on
 * stdin, the response from stdout, stderr and the response's `log` to the logger (redacted), and a
 * deadline after which the CPI's whole process group is killed.
 */
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import type { Logger } from '../../common/logger.js';
import { REDACTED, redactText } from '../../common/redact.js';
import { CloudError } from '../cloud.js';
import { CpiInvalidResponseError, decodeResponse, encodeRequest, type CpiRequest, type CpiResponse } from './protocol.js';

/** BOSH gives a CPI only these (external_cpi.rb). */
export const CPI_PATH = '/usr/sbin:/usr/bin:/sbin:/bin';
const MAX_STDOUT_BYTES = 64 * 1024 * 1024;
const KILL_GRACE_MS = 2_000;

export interface CpiCommand {
  /** The executable. */
  path: string;
  args: string[];
}

export interface RunCpiOptions {
  timeoutMs: number;
  logger: Logger;
  /** TMPDIR of the child; default os.tmpdir(). */
  tmpDir?: string;
}

/** The CPI did not answer within its time: its process group was killed. */
export class CpiTimeoutError extends CloudError {
  override readonly type = 'CpiTimeout';
}

/** Secret-named values (src/common/redact.ts) and the password of a URL (`https://user:PASSWORD@host`, an mbus URL). */
export function redactCpiText(text: string): string {
  return redactText(text).replace(/([A-Za-z][A-Za-z0-9+.-]*:\/\/[^:/\s@"']+:)[^@\s"'/]+@/g, `$1${REDACTED}@`);
}

export function describeCall(cpi: CpiCommand, method: string): string {
  return `the CPI ${cpi.path} (method ${method})`;
}

export async function runCpi(cpi: CpiCommand, request: CpiRequest, options: RunCpiOptions): Promise<CpiResponse> {
  const where = describeCall(cpi, request.method);
  const log = options.logger.child({ cpi: cpi.path, method: request.method });
  const child = spawn(cpi.path, cpi.args, {
    env: { PATH: CPI_PATH, TMPDIR: options.tmpDir ?? tmpdir() },
    stdio: ['pipe', 'pipe', 'pipe'],
    // Its own process group, so that a timeout kills what the CPI started too.
    detached: true,
  });
  const stdout: Buffer[] = [];
  let stdoutBytes = 0;
  let tooLong = false;
  let stderrRest = '';
  const logStderr = (line: string): void => {
    if (line.trim() !== '') log.debug('cpi stderr', { line: redactCpiText(line) });
  };
  child.stdout.on('data', (chunk: Buffer) => {
    stdoutBytes += chunk.length;
    if (stdoutBytes > MAX_STDOUT_BYTES) tooLong = true;
    else stdout.push(chunk);
  });
  child.stderr.on('data', (chunk: Buffer) => {
    const lines = (stderrRest + chunk.toString('utf8')).split('\n');
    stderrRest = lines.pop() ?? '';
    lines.forEach(logStderr);
  });
  child.stdin.on('error', () => undefined); // a CPI that exits without reading: its answer says why
  child.stdin.end(encodeRequest(request));

  let timedOut = false;
  const killGroup = (signal: NodeJS.Signals): void => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, signal);
    } catch {
      // already gone
    }
  };
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup('SIGTERM');
    setTimeout(() => killGroup('SIGKILL'), KILL_GRACE_MS).unref();
  }, options.timeoutMs);

  const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; spawnError?: Error }>((resolve) => {
    child.on('error', (err) => resolve({ code: null, signal: null, spawnError: err }));
    child.on('close', (code, signal) => resolve({ code, signal }));
  });
  clearTimeout(timer);
  logStderr(stderrRest);

  if (exit.spawnError) {
    throw new CloudError(`${where} could not be started: ${exit.spawnError.message}; check the cloud's \`cpi\` path and that it is executable`, {
      cause: exit.spawnError,
    });
  }
  if (timedOut) {
    throw new CpiTimeoutError(`${where} did not answer within ${Math.round(options.timeoutMs / 1000)} s and was killed; raise cloud.timeouts.${request.method} or look at the CPI's log`);
  }
  if (tooLong) throw new CpiInvalidResponseError(`${where} wrote more than ${MAX_STDOUT_BYTES} bytes to stdout`);
  const text = Buffer.concat(stdout).toString('utf8');
  let response: CpiResponse;
  try {
    response = decodeResponse(text, where);
  } catch (err) {
    if (exit.code !== 0 && err instanceof CpiInvalidResponseError) {
      const how = exit.signal === null ? `exit status ${exit.code}` : `signal ${exit.signal}`;
      throw new CpiInvalidResponseError(`${err.message} (it ended with ${how}; its stderr is in the debug log)`);
    }
    throw err;
  }
  for (const line of response.log.split('\n')) if (line.trim() !== '') log.debug('cpi log', { line: redactCpiText(line) });
  return response;
}
