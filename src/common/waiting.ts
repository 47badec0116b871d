/**
 * Time, in one place: sleep, poll-until, backoff and deadlines. Every wait takes an AbortSignal,
 * so that a timeout or a cancel stops the work instead of leaving it running behind a rejected
 * promise. Nothing else in bosun calls setTimeout to wait.
 */
import { CancelledError, TimeoutError, errorMessage } from './errors.js';

/** Resolves after `ms`; rejects with the signal's reason (a CancelledError by default) when it aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(abortReason(signal));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(done, Math.max(0, ms));
    function done(): void {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }
    function onAbort(): void {
      clearTimeout(timer);
      reject(abortReason(signal));
    }
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** The error an aborted signal stands for: its reason when that is an Error, else a CancelledError. */
export function abortReason(signal: AbortSignal | undefined): Error {
  const reason: unknown = signal?.reason;
  if (reason instanceof Error && reason.name !== 'AbortError') return reason;
  return new CancelledError('the operation was cancelled');
}

/** Throws the signal's reason when it has aborted; call between steps of long work. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortReason(signal);
}

/** Exponential backoff: `initialMs`, then ×`factor` per attempt, capped at `maxMs`. */
export interface BackoffPolicy {
  initialMs: number;
  maxMs: number;
  factor?: number;
}

/** Delay before retry number `attempt` (1 = the first retry). */
export function backoffDelayMs(attempt: number, policy: BackoffPolicy): number {
  const factor = policy.factor ?? 2;
  return Math.min(policy.maxMs, policy.initialMs * factor ** Math.max(0, attempt - 1));
}

/**
 * A point in time work must finish by. `signal` aborts with a TimeoutError naming `what` when the
 * deadline passes (or with the parent's reason when the parent aborts first); `dispose` clears the timer.
 */
export class Deadline {
  readonly atMs: number;
  readonly signal: AbortSignal;
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout;
  private readonly onParentAbort: () => void;

  constructor(
    readonly timeoutMs: number,
    readonly what: string,
    private readonly parent?: AbortSignal,
  ) {
    this.atMs = Date.now() + timeoutMs;
    this.signal = this.controller.signal;
    this.timer = setTimeout(() => this.controller.abort(this.timeoutError()), Math.max(0, timeoutMs));
    this.onParentAbort = () => this.controller.abort(abortReason(parent));
    if (parent?.aborted) this.onParentAbort();
    else parent?.addEventListener('abort', this.onParentAbort, { once: true });
  }

  remainingMs(): number {
    return Math.max(0, this.atMs - Date.now());
  }

  expired(): boolean {
    return Date.now() >= this.atMs;
  }

  timeoutError(lastError?: unknown): TimeoutError {
    const why = lastError === undefined ? '' : ` (last error: ${errorMessage(lastError)})`;
    return new TimeoutError(`${this.what}: no result within ${formatSeconds(this.timeoutMs)}${why}`, {
      cause: lastError,
    });
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.parent?.removeEventListener('abort', this.onParentAbort);
  }
}

/**
 * Runs `work` with a signal that aborts after `timeoutMs`; the work is expected to stop when it
 * does. Rejects with a TimeoutError naming `what` if it has not settled by then.
 */
export async function withDeadline<T>(
  timeoutMs: number,
  what: string,
  work: (signal: AbortSignal) => Promise<T>,
  parent?: AbortSignal,
): Promise<T> {
  const deadline = new Deadline(timeoutMs, what, parent);
  try {
    return await Promise.race([
      work(deadline.signal),
      new Promise<never>((_, reject) => {
        if (deadline.signal.aborted) reject(abortReason(deadline.signal));
        deadline.signal.addEventListener('abort', () => reject(abortReason(deadline.signal)), { once: true });
      }),
    ]);
  } finally {
    deadline.dispose();
  }
}

export interface PollOptions {
  timeoutMs: number;
  intervalMs: number;
  /** What is awaited, for the timeout error: "agent of web/0 answers ping". */
  what: string;
  signal?: AbortSignal;
  /** Grow the interval between probes up to this (default: fixed interval). */
  maxIntervalMs?: number;
}

/**
 * Calls `probe` until it returns a value other than undefined. A probe that throws is retried
 * (the last error is named in the TimeoutError) unless `isFatal(err)` says to stop at once.
 */
export async function pollUntil<T>(
  probe: (signal: AbortSignal) => Promise<T | undefined>,
  options: PollOptions & { isFatal?: (err: unknown) => boolean },
): Promise<T> {
  const deadline = new Deadline(options.timeoutMs, options.what, options.signal);
  let lastError: unknown;
  let interval = options.intervalMs;
  try {
    for (;;) {
      throwIfAborted(options.signal);
      try {
        const value = await probe(deadline.signal);
        if (value !== undefined) return value;
      } catch (err) {
        if (options.signal?.aborted) throw abortReason(options.signal);
        if (options.isFatal?.(err)) throw err;
        lastError = err;
      }
      if (deadline.remainingMs() <= 0) throw deadline.timeoutError(lastError);
      try {
        await sleep(Math.min(interval, deadline.remainingMs()), deadline.signal);
      } catch (err) {
        if (options.signal?.aborted) throw err;
        throw deadline.timeoutError(lastError);
      }
      if (options.maxIntervalMs) interval = Math.min(options.maxIntervalMs, interval * 2);
    }
  } finally {
    deadline.dispose();
  }
}

function formatSeconds(ms: number): string {
  return ms < 10_000 ? `${Math.round(ms / 100) / 10} s` : `${Math.round(ms / 1000)} s`;
}
