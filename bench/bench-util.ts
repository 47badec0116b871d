import { connect } from 'node:net';

/** Resolves true when a TCP connection to host:port is accepted within `timeoutMs`. */
export function tcpAnswers(host: string, port: number, timeoutMs = 200): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    const done = (ok: boolean): void => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.on('connect', () => done(true));
    s.on('error', () => done(false));
  });
}

/** Polls every `everyMs` until `fn` is true; returns the elapsed ms since `sinceMs`. */
export async function until(fn: () => Promise<boolean>, sinceMs: number, timeoutMs = 60_000, everyMs = 10): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await fn()) return Date.now() - sinceMs;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`gave up after ${timeoutMs} ms`);
}

export function summary(samplesMs: number[]): { trials: number; medianMs: number; worstMs: number; bestMs: number } {
  const sorted = [...samplesMs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
  return { trials: sorted.length, medianMs: Math.round(median), worstMs: sorted.at(-1) ?? 0, bestMs: sorted[0] ?? 0 };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
