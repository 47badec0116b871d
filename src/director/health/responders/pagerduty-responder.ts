import type { Alert } from '../../../common/contracts/api.js';
import type { Responder } from './responder.js';
import type { ResponderOptions } from '../config.js';
import { postJsonWithRetry } from './http-post.js';

const PD_SEVERITY: Record<number, 'critical' | 'error' | 'warning' | 'info'> = {
  1: 'critical',
  2: 'critical',
  3: 'error',
  4: 'warning',
};

/**
 * Sends an Events-API-v2-shaped "trigger" event per alert to a configurable URL (PagerDuty's
 * https://events.pagerduty.com/v2/enqueue, or any receiver that speaks the same shape).
 * `dedup_key` is the alert's condition (category + instance), so repeats group into one incident.
 */
export class PagerDutyResponder implements Responder {
  readonly name = 'pagerduty';
  readonly minSeverity: number;
  constructor(
    private readonly options: ResponderOptions<'pagerduty', { backoffMs?: number; director?: string }>,
  ) {
    this.minSeverity = options.minSeverity ?? 4;
  }

  deliver(alert: Alert, signal: AbortSignal): Promise<void> {
    const source = this.options.director ?? 'bosun';
    return postJsonWithRetry({
      url: this.options.url,
      body: {
        routing_key: this.options.routingKey,
        event_action: 'trigger',
        dedup_key: [alert.category, alert.deployment ?? '', alert.instance ?? ''].join(':'),
        payload: {
          summary: `${alert.title}: ${alert.summary}`.slice(0, 1024),
          source,
          severity: PD_SEVERITY[alert.severity] ?? 'warning',
          timestamp: alert.createdAt,
          component: alert.instance ?? undefined,
          group: alert.deployment ?? undefined,
          class: alert.category,
          custom_details: { alert_id: alert.id, bosun_severity: alert.severity },
        },
      },
      timeoutMs: this.options.timeoutMs,
      attempts: this.options.attempts,
      backoffMs: this.options.backoffMs,
      signal,
    });
  }
}
