import { describe, expect, it } from 'vitest';
import { backoffDelayMs, isFlapping, nextFailureCount } from '../../../src/agent/containers/backoff.js';

describe('restart backoff', () => {
  it('restarts at once, then waits 1, 2, 4 … seconds up to 30 s', () => {
    const delays = [1, 2, 3, 4, 5, 6, 7, 8, 20].map((n) => backoffDelayMs(n));
    expect(delays).toEqual([0, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
  });

  it('counts quick deaths and resets after the container stayed up 10 s', () => {
    let n = 0;
    n = nextFailureCount(n, 50);
    n = nextFailureCount(n, 50);
    n = nextFailureCount(n, 900);
    expect(n).toBe(3);
    expect(isFlapping(n)).toBe(true);
    n = nextFailureCount(n, 10_000);
    expect(n).toBe(1);
    expect(isFlapping(n)).toBe(false);
    expect(backoffDelayMs(n)).toBe(0);
  });
});
