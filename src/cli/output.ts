import Table from 'cli-table3';
import { BosunError, errorMessage } from '../common/errors.js';

/** Global flags every command can read (set on the root program). */
export interface GlobalOptions {
  json?: boolean;
  deployment?: string;
  nonInteractive?: boolean;
  /** The CLI target config file (default ~/.bosun/config, or BOSUN_CONFIG). */
  config?: string;
  /** Tables at their full width even on a terminal (long cells are not wrapped). */
  wide?: boolean;
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
  const width = options.wide ? undefined : terminalWidth();
  process.stdout.write(`${renderTable(rows, columns, width)}\n\n${rows.length} ${rows.length === 1 ? 'row' : 'rows'}\n`);
}

/** The terminal's width when stdout is one; undefined for a pipe or a file (tables keep their full width). */
export function terminalWidth(): number | undefined {
  return process.stdout.isTTY && process.stdout.columns > 0 ? process.stdout.columns : undefined;
}

/** Narrowest a column is made to fit a terminal (its cells wrap onto more lines instead). */
const MIN_COLUMN_WIDTH = 6;

/**
 * The table as text. With a `width` (the terminal's), the widest columns are narrowed until the
 * table fits and their long cells wrap (at spaces where there are some); without one, every cell
 * is on one line at its full width (pipes, files, --wide).
 */
export function renderTable<T>(rows: T[], columns: Column<T>[], width?: number): string {
  const headers = columns.map((c) => c.header);
  let cells = rows.map((row) => columns.map((c) => formatCell(c.value(row))));
  const colWidths = width === undefined ? undefined : fitColumns(headers, cells, width);
  if (colWidths !== undefined) cells = cells.map((row) => row.map((cell, i) => wrap(cell, (colWidths[i] ?? 3) - 2)));
  const table = new Table({
    head: colWidths === undefined ? headers : headers.map((h, i) => wrap(h, (colWidths[i] ?? 3) - 2)),
    style: { head: [], border: [] },
    chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' },
    ...(colWidths === undefined ? {} : { colWidths }),
  });
  for (const row of cells) table.push(row);
  return table.toString();
}

/**
 * Column widths (with their padding of 2) that, with the borders, fit in `width`; undefined when
 * the table fits as it is. Columns narrower than an even share keep their width; the others share
 * what is left (as a browser lays out a table).
 */
function fitColumns(headers: string[], cells: string[][], width: number): number[] | undefined {
  const natural = headers.map(
    (h, i) => Math.max(displayWidth(h), ...cells.map((row) => Math.max(...(row[i] ?? '').split('\n').map(displayWidth)))) + 2,
  );
  let available = width - (headers.length + 1);
  if (natural.reduce((a, b) => a + b, 0) <= available) return undefined;
  const widths = new Array<number>(natural.length).fill(0);
  const order = natural.map((w, i) => ({ w, i })).sort((a, b) => a.w - b.w);
  order.forEach(({ w, i }, k) => {
    const share = Math.floor(available / (order.length - k));
    widths[i] = Math.max(MIN_COLUMN_WIDTH, Math.min(w, share));
    available -= widths[i] ?? 0;
  });
  return widths;
}

/** Lines of at most `width` characters: broken at the last space that fits, else inside the word. */
function wrap(text: string, width: number): string {
  if (width < 1) return text;
  const out: string[] = [];
  for (const line of text.split('\n')) {
    let rest = [...line];
    while (rest.length > width) {
      const head = rest.slice(0, width + 1);
      const space = head.lastIndexOf(' ');
      const cut = space > 0 ? space : width;
      out.push(rest.slice(0, cut).join('').trimEnd());
      rest = rest.slice(space > 0 ? cut + 1 : cut);
    }
    out.push(rest.join(''));
  }
  return out.join('\n');
}

function displayWidth(text: string): number {
  return [...text].length;
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
