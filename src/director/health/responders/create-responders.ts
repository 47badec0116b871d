import type { Logger } from '../../../common/logger.js';
import type { ResponderConfig } from '../config.js';
import type { Responder } from './responder.js';
import { LogResponder } from './log-responder.js';
import { WebhookResponder } from './webhook-responder.js';
import { EmailResponder } from './email-responder.js';
import { PagerDutyResponder } from './pagerduty-responder.js';

/** The configured responders; the log responder is always there (once). */
export function createResponders(
  configs: readonly ResponderConfig[],
  logger: Logger,
  director = 'bosun',
): Responder[] {
  const out: Responder[] = [];
  for (const c of configs) {
    switch (c.type) {
      case 'log':
        out.push(new LogResponder(logger, c.minSeverity));
        break;
      case 'webhook':
        out.push(new WebhookResponder({ ...c, director }));
        break;
      case 'email':
        out.push(new EmailResponder(c));
        break;
      case 'pagerduty':
        out.push(new PagerDutyResponder({ ...c, director }));
        break;
    }
  }
  if (!out.some((r) => r instanceof LogResponder)) out.unshift(new LogResponder(logger));
  return out;
}
