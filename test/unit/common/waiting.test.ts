import { describe, expect, it } from 'vitest';
import { CancelledError, TimeoutError } from '../../../src/common/errors.js';
import { backoffDelayMs, Deadline, pollUntil, sleep, withDeadline } from '../../../src/common/waiting.js';
import { retry } from '../../../src/common/retry.js';

describe('waiting', () => {
  it('sleep rejects at once when its signal aborts', async () => {
    const controller = new AbortController();
    const started = Date.now();
    const p = sleep(10_000, controller.signal);
    controller.abort();
    await expect(p).rejects.toBeInstanceOf(CancelledError);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('backoff grows by the factor and stops at the cap', () => {
    const policy = { initialMs: 100, maxMs: 1000 };
    expect([1, 2, 3, 4, 5].map((a) => backoffDelayMs(a, policy))).toEqual([100, 200, 400, 800, 1000]);
  });

  it('pollUntil returns the first defined value and names the last error on timeout', async () => {
    let n = 0;
    await expect(pollUntil(async () => (++n >= 3 ? n : undefined), { timeoutMs: 2000, intervalMs: 5, what: 'x' })).resolves.toBe(3);
    const failing = pollUntil(
      async () => {
        throw new Error('connection refused');
      },
      { timeoutMs: 50, intervalMs: 10, what: 'agent answers ping' },
    );
    await expect(failing).rejects.toThrow(/agent answers ping.*connection refused/);
  });

  it('pollUntil stops at once on a fatal error', async () => {
    let calls = 0;
    const p = pollUntil(
      async () => {
        calls++;
        throw new TimeoutError('fatal');
      },
      { timeoutMs: 5000, intervalMs: 5, what: 'x', isFatal: () => true },
    );
    await expect(p).rejects.toThrow('fatal');
    expect(calls).toBe(1);
  });

  it('withDeadline aborts the work it gave up on', async () => {
    let sawAbort = false;
    const p = withDeadline(30, 'slow work', async (signal) => {
      await sleep(5000, signal).catch((err: unknown) => {
        sawAbort = true;
        throw err;
      });
    });
    await expect(p).rejects.toBeInstanceOf(TimeoutError);
    await sleep(5);
    expect(sawAbort).toBe(true);
  });

  it('a Deadline follows its parent signal', () => {
    const parent = new AbortController();
    const d = new Deadline(10_000, 'x', parent.signal);
    parent.abort();
    expect(d.signal.aborted).toBe(true);
    d.dispose();
  });
});

describe('retry', () => {
  const fast = { attempts: 4, backoff: { initialMs: 1, maxMs: 2 }, deadlineMs: 5000 };

  it('retries only errors that say okToRetry', async () => {
    let calls = 0;
    const retryable = Object.assign(new Error('busy'), { okToRetry: true });
    await expect(
      retry(async () => {
        if (++calls < 3) throw retryable;
        return 'ok';
      }, fast, { what: 'x' }),
    ).resolves.toBe('ok');
    expect(calls).toBe(3);

    calls = 0;
    const final = Object.assign(new Error('no'), { okToRetry: false });
    await expect(
      retry(async () => {
        calls++;
        throw final;
      }, fast, { what: 'x' }),
    ).rejects.toBe(final);
    expect(calls).toBe(1);
  });

  it('gives up after the attempts', async () => {
    let calls = 0;
    await expect(
      retry(async () => {
        calls++;
        throw Object.assign(new Error('busy'), { okToRetry: true });
      }, fast, { what: 'x' }),
    ).rejects.toThrow('busy');
    expect(calls).toBe(4);
  });
});
