/**
 * POSTs JSON with bounded retries and exponential backoff: network errors, 429 and 5xx are retried,
 * other 4xx are not (the receiver said the request itself is wrong).
 */
export interface PostOptions {
  url: string;
  body: unknown;
  headers?: Record<string, string>;
  /** Per attempt. */
  timeoutMs: number;
  attempts: number;
  /** First backoff; doubles each retry. */
  backoffMs?: number;
  signal?: AbortSignal;
}

export async function postJsonWithRetry(o: PostOptions): Promise<void> {
  const backoff = o.backoffMs ?? 500;
  let lastError: unknown;
  for (let attempt = 1; attempt <= o.attempts; attempt++) {
    if (o.signal?.aborted) throw o.signal.reason as Error;
    const signals = [AbortSignal.timeout(o.timeoutMs)];
    if (o.signal) signals.push(o.signal);
    try {
      const res = await fetch(o.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...o.headers },
        body: JSON.stringify(o.body),
        signal: AbortSignal.any(signals),
      });
      await res.arrayBuffer().catch(() => undefined);
      if (res.ok) return;
      lastError = new Error(`${o.url} answered HTTP ${res.status}`);
      if (res.status < 500 && res.status !== 429) throw lastError;
    } catch (err) {
      if (err === lastError) throw err;
      lastError = err;
    }
    if (attempt < o.attempts) await sleep(backoff * 2 ** (attempt - 1), o.signal);
  }
  throw new Error(
    `gave up after ${o.attempts} attempts: ${lastError instanceof Error ? lastError.message : String(lastError)}`,
  );
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        reject(signal.reason as Error);
      },
      { once: true },
    );
  });
}
