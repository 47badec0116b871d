/**
 * Restart backoff of a container that keeps dying: the first restart is immediate, then 1, 2, 4 …
 * seconds up to 30 s. A container that stayed up for `resetAfterMs` starts again from zero.
 */
export interface BackoffPolicy {
  /** Delay before the second quick restart; doubles with each further one. Default 1000. */
  initialDelayMs?: number;
  maxDelayMs: number;
  resetAfterMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { initialDelayMs: 1000, maxDelayMs: 30_000, resetAfterMs: 10_000 };

/** Delay before restart number `consecutiveFailures` (1 = the first death after a good run). */
export function backoffDelayMs(consecutiveFailures: number, policy: BackoffPolicy = DEFAULT_BACKOFF): number {
  if (consecutiveFailures <= 1) return 0;
  return Math.min(policy.maxDelayMs, (policy.initialDelayMs ?? 1000) * 2 ** (consecutiveFailures - 2));
}

/** Consecutive failures after a death, given how long the container had been up. */
export function nextFailureCount(previous: number, uptimeMs: number, policy: BackoffPolicy = DEFAULT_BACKOFF): number {
  return uptimeMs >= policy.resetAfterMs ? 1 : previous + 1;
}

/** Flapping: it died again quickly after a restart, so the backoff is active. */
export function isFlapping(consecutiveFailures: number): boolean {
  return consecutiveFailures >= 2;
}
