/**
 * Records every method call made on a cloud (name, arguments, start and end time, outcome) so a
 * test can assert the order the director used them in — e.g. that the old VM was deleted before
 * its disk was attached to the new one. The returned proxy behaves exactly like the cloud.
 */
import type { Cloud } from '../../src/cloud/cloud.js';

export interface CloudCall {
  method: string;
  args: unknown[];
  startedAt: number;
  /** Set when the call settled; undefined while it runs. */
  endedAt?: number;
  ok?: boolean;
  result?: unknown;
}

export function recordCloudCalls<C extends Cloud>(cloud: C): { cloud: C; calls: CloudCall[] } {
  const calls: CloudCall[] = [];
  const proxy = new Proxy(cloud, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function' || typeof prop !== 'string' || prop === 'constructor') return value;
      return (...args: unknown[]): unknown => {
        const call: CloudCall = { method: prop, args, startedAt: Date.now() };
        calls.push(call);
        const settle = (ok: boolean, result: unknown): void => {
          call.endedAt = Date.now();
          call.ok = ok;
          call.result = result;
        };
        let out: unknown;
        try {
          out = (value as (...a: unknown[]) => unknown).apply(target, args);
        } catch (err) {
          settle(false, err);
          throw err;
        }
        if (out instanceof Promise) {
          return out.then(
            (r: unknown) => {
              settle(true, r);
              return r;
            },
            (err: unknown) => {
              settle(false, err);
              throw err;
            },
          );
        }
        settle(true, out);
        return out;
      };
    },
  });
  return { cloud: proxy, calls };
}
