/** Waiting helpers shared by the e2e tests and the benchmarks that drive a real Director. */
import type { Director } from '../../src/director/director.js';

/** Polls `fn` every 100 ms until it returns a value (errors count as "not yet"); throws after `timeoutMs`. */
export async function waitUntil<T>(
  what: string,
  fn: () => Promise<T | undefined>,
  timeoutMs: number,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${last instanceof Error ? ` (${last.message})` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Waits for the task and throws unless it ended `done`; returns its result text. */
export async function ended(director: Director, id: number): Promise<string | null> {
  const t = await director.tasks.wait(id);
  if (t.state !== 'done') throw new Error(`task ${id} (${t.description}) ended ${t.state}: ${t.error}`);
  return t.result ?? null;
}
