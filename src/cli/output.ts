import Table from 'cli-table3';
import { BosunError, errorMessage } from '../common/errors.js';

/** Global flags every command can read (set on the root program). */
export interface GlobalOptions {
  json?: boolean;
  deployment?: string;
  nonInteractive?: boolean;
  /** The CLI target config file (default ~/.bosun/config, or BOSUN_CONFIG). */
  config?: string;
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export interface Column<T> {
  header: string;
  value: (row: T) => string | number | boolean | null | undefined;
}

/** Prints rows as a table, or as a JSON array of the raw rows with --json. */
export function printRows<T>(
  rows: T[],
  columns: Column<T>[],
  options: GlobalOptions,
  jsonValue?: unknown,
): void {
  if (options.json) {
    printJson(jsonValue ?? rows);
    return;
  }
  const table = new Table({
    head: columns.map((c) => c.header),
    style: { head: [], border: [] },
    chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' },
  });
  for (const row of rows) table.push(columns.map((c) => formatCell(c.value(row))));
  process.stdout.write(`${table.toString()}\n\n${rows.length} ${rows.length === 1 ? 'row' : 'rows'}\n`);
}

function formatCell(v: string | number | boolean | null | undefined): string {
  if (v === null || v === undefined) return '-';
  return String(v);
}

/** Exit codes: 0 success, 1 a user error (bad input, invalid manifest, not found), 2 an internal error. */
export const EXIT_OK = 0;
export const EXIT_USER_ERROR = 1;
export const EXIT_INTERNAL_ERROR = 2;

/** Thrown by commands that already printed their outcome and only need to set the exit code. */
export class ExitError extends Error {
  constructor(
    readonly exitCode: number,
    message = '',
  ) {
    super(message);
  }
}

export function exitCodeFor(err: unknown): number {
  if (err instanceof ExitError) return err.exitCode;
  if (err instanceof BosunError) return err.isUserError ? EXIT_USER_ERROR : EXIT_INTERNAL_ERROR;
  if (
    err &&
    typeof err === 'object' &&
    'code' in err &&
    String((err as { code: unknown }).code).startsWith('commander.')
  ) {
    return EXIT_USER_ERROR;
  }
  return EXIT_INTERNAL_ERROR;
}

export function reportError(err: unknown, options: GlobalOptions): void {
  if (err instanceof ExitError) {
    if (err.message) process.stderr.write(`${err.message}\n`);
    return;
  }
  if (options.json) {
    const code = err instanceof BosunError ? err.code : 'internal';
    const details = err instanceof BosunError ? err.details : undefined;
    process.stdout.write(
      `${JSON.stringify({ error: { code, message: errorMessage(err), details } }, null, 2)}\n`,
    );
    return;
  }
  process.stderr.write(`Error: ${errorMessage(err)}\n`);
  if (!(err instanceof BosunError) && err instanceof Error && err.stack && process.env['BOSUN_DEBUG']) {
    process.stderr.write(`${err.stack}\n`);
  }
}
