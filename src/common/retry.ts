/**
 * The one retry policy: a bounded number of attempts with backoff inside a deadline, and each
 * error's own verdict (`okToRetry` on cloud errors, `retryable` on transport errors) decides
 * whether another attempt is worth it. Callers never loop on failures themselves.
 */
import { abortReason, backoffDelayMs, Deadline, sleep, type BackoffPolicy } from './waiting.js';

export interface RetryPolicy {
  /** Attempts in all, the first one included. */
  attempts: number;
  backoff: BackoffPolicy;
  /** No new attempt starts after this much time since the first. */
  deadlineMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  attempts: 3,
  backoff: { initialMs: 500, maxMs: 5_000 },
  deadlineMs: 60_000,
};

/** An error that says itself whether repeating the call may succeed (BOSH's ok_to_retry). */
export interface RetryVerdict {
  okToRetry?: boolean;
  retryable?: boolean;
}

/** True only when the error says so: unknown errors are not retried. */
export function isRetryable(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const v = err as RetryVerdict;
  return v.okToRetry === true || v.retryable === true;
}

export interface RetryOptions {
  what: string;
  signal?: AbortSignal;
  /** Overrides the error's own verdict (e.g. polls that retry every transport failure). */
  shouldRetry?: (err: unknown) => boolean;
  /** Told before each retry (for a task's debug log). */
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
}

export async function retry<T>(
  work: (signal: AbortSignal, attempt: number) => Promise<T>,
  policy: RetryPolicy,
  options: RetryOptions,
): Promise<T> {
  const deadline = new Deadline(policy.deadlineMs, options.what, options.signal);
  const shouldRetry = options.shouldRetry ?? isRetryable;
  try {
    for (let attempt = 1; ; attempt++) {
      try {
        return await work(options.signal ?? deadline.signal, attempt);
      } catch (err) {
        if (options.signal?.aborted) throw abortReason(options.signal);
        const delayMs = backoffDelayMs(attempt, policy.backoff);
        const outOfTime = deadline.remainingMs() <= delayMs;
        if (attempt >= policy.attempts || outOfTime || !shouldRetry(err)) throw err;
        options.onRetry?.(err, attempt, delayMs);
        await sleep(delayMs, options.signal);
      }
    }
  } finally {
    deadline.dispose();
  }
}
