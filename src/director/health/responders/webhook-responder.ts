import type { Alert } from '../../../common/contracts/api.js';
import type { Responder } from './responder.js';
import type { ResponderOptions } from '../config.js';
import { postJsonWithRetry } from './http-post.js';

/** POSTs each alert as JSON (`{ alert, director }`) to a URL, retried with backoff. */
export class WebhookResponder implements Responder {
  readonly name: string;
  constructor(
    private readonly options: Omit<
      ResponderOptions<'webhook', { backoffMs?: number; director?: string }>,
      'headers'
    > & {
      headers?: Record<string, string>;
    },
  ) {
    this.name = `webhook ${new URL(options.url).host}`;
    this.minSeverity = options.minSeverity ?? 4;
  }
  readonly minSeverity: number;

  deliver(alert: Alert, signal: AbortSignal): Promise<void> {
    return postJsonWithRetry({
      url: this.options.url,
      headers: this.options.headers,
      body: { kind: 'alert', director: this.options.director ?? 'bosun', alert },
      timeoutMs: this.options.timeoutMs,
      attempts: this.options.attempts,
      backoffMs: this.options.backoffMs,
      signal,
    });
  }
}
