/**
 * Serialises async critical sections within this process: the agent's container changes (apply,
 * stop, heal), its disk operations (mount, unmount, migrate) and the local cloud's IP allocation
 * and disk attachment never interleave.
 */
import { abortReason } from './waiting.js';

export class Mutex {
  private tail: Promise<void> = Promise.resolve();

  /**
   * Runs `fn` once every earlier caller is done. When `signal` aborts while this caller still
   * waits, it rejects at once and `fn` never runs; once `fn` has started, `fn` itself decides
   * how to stop.
   */
  async run<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (signal?.aborted) throw abortReason(signal);
    const previous = this.tail;
    let release!: () => void;
    this.tail = new Promise<void>((resolve) => (release = resolve));
    if (signal === undefined) {
      await previous;
      try {
        return await fn();
      } finally {
        release();
      }
    }
    let started = false;
    return new Promise<T>((resolve, reject) => {
      const onAbort = (): void => {
        if (!started) reject(abortReason(signal));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      void previous.then(async () => {
        try {
          if (signal.aborted) return; // gave up while waiting: already rejected
          started = true;
          resolve(await fn());
        } catch (err) {
          reject(err);
        } finally {
          signal.removeEventListener('abort', onAbort);
          release();
        }
      });
    });
  }
}
