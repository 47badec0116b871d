/**
 * POSTs JSON to a receiver the operator configured (a webhook, PagerDuty), over the shared HTTP
 * client, with bounded retries and exponential backoff (src/common/retry.ts): an unreachable
 * receiver, a timeout, 429 and 5xx are retried; other 4xx are not (the receiver said the request
 * itself is wrong), nor is a certificate the system's CAs do not trust.
 */
import { Agent } from 'undici';
import { errorMessage, UnavailableError } from '../../../common/errors.js';
import { HttpsClient } from '../../../common/http/https-client.js';
import { retry, type RetryPolicy } from '../../../common/retry.js';
import { abortReason, backoffDelayMs, type BackoffPolicy } from '../../../common/waiting.js';

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

const MAX_BACKOFF_MS = 30_000;
/** Receivers answer with little; a big answer is not read whole. */
const MAX_ANSWER_BYTES = 64 * 1024;
/** One pool for every receiver: http or https, https verified against the system's CAs. */
const RECEIVERS = new Agent({ connections: 2 });

export async function postJsonWithRetry(o: PostOptions): Promise<void> {
  const url = new URL(o.url);
  const client = new HttpsClient({
    baseUrl: url.origin,
    peerName: `the receiver at ${url.origin}`,
    dispatcher: RECEIVERS,
    allowPlainHttp: true,
    timeoutMs: o.timeoutMs,
    maxResponseBytes: MAX_ANSWER_BYTES,
    headers: o.headers,
    unreachableHint: 'check the URL in the responder configuration and that the receiver is running.',
  });
  const policy = retryPolicy(o);
  let attempts = 0;
  try {
    await retry(
      async (signal, attempt) => {
        attempts = attempt;
        const res = await client.raw('POST', `${url.pathname}${url.search}`, { json: o.body, signal });
        if (res.status >= 200 && res.status < 300) return;
        throw new UnavailableError(`${o.url} answered HTTP ${res.status}`, {
          retryable: res.status >= 500 || res.status === 429,
        });
      },
      policy,
      { what: `POST ${o.url}`, signal: o.signal },
    );
  } catch (err) {
    if (o.signal?.aborted) throw abortReason(o.signal);
    if (attempts <= 1) throw err;
    throw new UnavailableError(`gave up after ${attempts} attempts: ${errorMessage(err)}`, { cause: err });
  }
}

/** `attempts` attempts, the backoff doubling from `backoffMs`; the deadline leaves room for all of them. */
function retryPolicy(o: PostOptions): RetryPolicy {
  const backoff: BackoffPolicy = { initialMs: o.backoffMs ?? 500, maxMs: MAX_BACKOFF_MS };
  let deadlineMs = o.attempts * o.timeoutMs + 1_000;
  for (let retry = 1; retry < o.attempts; retry++) deadlineMs += backoffDelayMs(retry, backoff);
  return { attempts: o.attempts, backoff, deadlineMs };
}
