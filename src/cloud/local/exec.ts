import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { CloudError } from '../cloud.js';

const execFileAsync = promisify(execFile);

export interface ExecResult {
  stdout: string;
  stderr: string;
}

/**
 * Runs a host command (ip, losetup, …) and turns a failure into a CloudError whose message names
 * the command and carries its stderr, so an operator can see what the host refused and why.
 */
export async function run(
  file: string,
  args: string[],
  options: { timeoutMs?: number } = {},
): Promise<ExecResult> {
  try {
    const { stdout, stderr } = await execFileAsync(file, args, {
      timeout: options.timeoutMs ?? 30_000,
      maxBuffer: 16 * 1024 * 1024,
      encoding: 'utf8',
    });
    return { stdout, stderr };
  } catch (err) {
    const e = err as { stderr?: string; code?: unknown; message?: string };
    const stderr = (e.stderr ?? '').trim();
    const detail = stderr || e.message || String(err);
    throw new CloudError(`the host command \`${[file, ...args].join(' ')}\` failed: ${detail}`, {
      okToRetry: false,
      cause: err,
    });
  }
}

/** Like run, but a failure is returned instead of thrown (for best-effort cleanup steps). */
export async function tryRun(file: string, args: string[]): Promise<ExecResult | CloudError> {
  try {
    return await run(file, args);
  } catch (err) {
    return err as CloudError;
  }
}

/** Quotes one word for /bin/sh. */
export function shellQuote(word: string): string {
  if (/^[A-Za-z0-9_./:=@%+,-]+$/.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}
