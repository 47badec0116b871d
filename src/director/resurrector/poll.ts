import { TimeoutError } from '../../common/errors.js';

/** Calls `probe` every `intervalMs` until it returns a value other than undefined, or fails with `what` after `timeoutMs`. */
export async function pollUntil<T>(
  probe: () => Promise<T | undefined>,
  options: { timeoutMs: number; intervalMs: number; what: string },
): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const why = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new TimeoutError(`${options.what} after ${Math.round(options.timeoutMs / 1000)} s${why}`, {
        cause: lastError,
      });
    }
    await new Promise((r) => setTimeout(r, options.intervalMs));
  }
}

/** Rejects with a TimeoutError saying `what` when `p` does not settle within `ms` (an agent that hangs must not hang us). */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new TimeoutError(`${what} within ${Math.round(ms / 100) / 10} s`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
