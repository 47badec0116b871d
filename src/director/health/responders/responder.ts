import type { Alert } from '../../../common/contracts/api.js';

/** Somewhere alerts go (log, webhook, email, PagerDuty …). `deliver` may be slow or fail; the dispatcher copes. */
export interface Responder {
  readonly name: string;
  /** Only alerts with severity ≤ this (1 most severe) are delivered. */
  readonly minSeverity: number;
  deliver(alert: Alert, signal: AbortSignal): Promise<void>;
}
