/**
 * Hands each alert to every responder, fire-and-forget: a slow or failing responder never blocks
 * the monitor or the other responders. Each delivery has a deadline; errors are logged. The number
 * of deliveries in flight per responder is bounded, so a dead endpoint cannot pile up memory.
 */
import type { Alert } from '../../../common/contracts/api.js';
import type { Logger } from '../../../common/logger.js';
import { errorMessage } from '../../../common/errors.js';
import type { Responder } from './responder.js';

export interface DispatcherOptions {
  /** Overall deadline of one delivery, retries included. */
  deliveryTimeoutMs: number;
  /** Deliveries in flight per responder beyond which new alerts for it are dropped (and logged). */
  maxInFlight: number;
}

export class ResponderDispatcher {
  private readonly inFlight = new Map<string, Set<Promise<void>>>();

  constructor(
    private readonly responders: readonly Responder[],
    private readonly logger: Logger,
    private readonly options: DispatcherOptions = { deliveryTimeoutMs: 60_000, maxInFlight: 100 },
  ) {}

  dispatch(alert: Alert): void {
    for (const r of this.responders) {
      if (alert.severity > r.minSeverity) continue;
      const pending = this.inFlight.get(r.name) ?? new Set<Promise<void>>();
      this.inFlight.set(r.name, pending);
      if (pending.size >= this.options.maxInFlight) {
        this.logger.warn(
          `responder ${r.name} has ${pending.size} alerts in flight; dropping alert "${alert.title}"`,
        );
        continue;
      }
      const p = this.deliver(r, alert).finally(() => pending.delete(p));
      pending.add(p);
    }
  }

  /** Waits for every delivery in flight (tests, shutdown). */
  async drain(): Promise<void> {
    const all = [...this.inFlight.values()].flatMap((s) => [...s]);
    await Promise.all(all);
  }

  private async deliver(r: Responder, alert: Alert): Promise<void> {
    const controller = new AbortController();
    const timer = setTimeout(
      () => controller.abort(new Error(`timed out after ${this.options.deliveryTimeoutMs} ms`)),
      this.options.deliveryTimeoutMs,
    );
    try {
      await Promise.race([
        r.deliver(alert, controller.signal),
        new Promise<never>((_, reject) =>
          controller.signal.addEventListener('abort', () => reject(controller.signal.reason as Error), {
            once: true,
          }),
        ),
      ]);
    } catch (err) {
      this.logger.warn(`responder ${r.name} could not deliver alert "${alert.title}": ${errorMessage(err)}`, {
        alertId: alert.id,
      });
    } finally {
      clearTimeout(timer);
      controller.abort();
    }
  }
}
