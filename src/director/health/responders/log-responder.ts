import type { Alert } from '../../../common/contracts/api.js';
import type { Logger } from '../../../common/logger.js';
import type { Responder } from './responder.js';

/** Always on: every alert goes to the director's log, severe ones as errors. */
export class LogResponder implements Responder {
  readonly name = 'log';
  constructor(
    private readonly logger: Logger,
    readonly minSeverity = 4,
  ) {}

  deliver(alert: Alert): Promise<void> {
    const meta = {
      alertId: alert.id,
      severity: alert.severity,
      category: alert.category,
      deployment: alert.deployment,
      instance: alert.instance,
    };
    const msg = `alert: ${alert.title} — ${alert.summary}`;
    if (alert.severity <= 2) this.logger.error(msg, meta);
    else this.logger.warn(msg, meta);
    return Promise.resolve();
  }
}
