/** The checks of `bosun cpi-certify`: each one named, timed, with what the CPI answered. */
import { errorMessage } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';

export type CheckStatus = 'passed' | 'failed' | 'skipped' | 'not_supported' | 'not_trusted';

export interface CheckResult {
  name: string;
  /** A failed required check makes the certification fail (exit 1). */
  required: boolean;
  status: CheckStatus;
  durationMs: number;
  /** What was seen: the CPI's answer, or its error. */
  detail: string;
}

/** A check's own verdict other than plain success (thrown errors are failures). */
export class CheckOutcome {
  constructor(
    readonly status: Exclude<CheckStatus, 'failed'>,
    readonly detail: string,
  ) {}
}

/** The CPI's stderr lines (already redacted), so that a failed check can quote the last of them. */
export class CpiStderrTail {
  private readonly lines: string[] = [];

  readonly logger: Logger = {
    debug: (msg, meta) => {
      if (msg === 'cpi stderr' && typeof meta?.['line'] === 'string') this.lines.push(meta['line']);
    },
    info: () => undefined,
    warn: () => undefined,
    error: () => undefined,
    child: () => this.logger,
  };

  mark(): number {
    return this.lines.length;
  }

  /** The last `max` lines written since `mark`. */
  since(mark: number, max = 5): string[] {
    return this.lines.slice(mark).slice(-max);
  }
}

export class CheckLog {
  readonly results: CheckResult[] = [];

  constructor(private readonly stderr?: CpiStderrTail) {}

  /**
   * Runs one check. Returns its value, or undefined when it failed (the failure is recorded; a
   * required failure stops nothing by itself: the sequence decides what can still run).
   */
  async run<T>(name: string, required: boolean, fn: () => Promise<T | CheckOutcome>, describe: (value: T) => string = defaultDetail): Promise<T | undefined> {
    const started = performance.now();
    const mark = this.stderr?.mark() ?? 0;
    const took = (): number => Math.round(performance.now() - started);
    try {
      const value = await fn();
      if (value instanceof CheckOutcome) {
        this.results.push({ name, required, status: value.status, durationMs: took(), detail: value.detail });
        return undefined;
      }
      this.results.push({ name, required, status: 'passed', durationMs: took(), detail: describe(value) });
      return value;
    } catch (err) {
      const tail = this.stderr?.since(mark) ?? [];
      const detail = tail.length === 0 ? errorMessage(err) : `${errorMessage(err)} — the CPI's stderr ended with: ${tail.join(' | ')}`;
      this.results.push({ name, required, status: 'failed', durationMs: took(), detail });
      return undefined;
    }
  }

  skip(name: string, required: boolean, why: string): void {
    this.results.push({ name, required, status: 'skipped', durationMs: 0, detail: why });
  }

  /** True when every required check passed (a skipped required check counts as not passed unless allowed). */
  get passed(): boolean {
    return this.results.every((r) => !r.required || r.status === 'passed' || r.status === 'not_supported' || r.status === 'not_trusted');
  }

  failed(name: string): boolean {
    return this.results.some((r) => r.name === name && r.status === 'failed');
  }
}

function defaultDetail(value: unknown): string {
  if (value === undefined || value === null) return 'ok';
  return typeof value === 'string' ? value : JSON.stringify(value);
}
