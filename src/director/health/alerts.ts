/**
 * Alerts: what the health monitor and the resurrector raise. An alert is stored, then handed to
 * every responder. Alerts about a condition (an unresponsive agent, a full disk …) carry a key and
 * are raised once while the condition lasts; clearing the key lets the next occurrence alert again.
 */
import { randomUUID } from 'node:crypto';
import type { Alert } from '../../common/contracts/api.js';
import type { Logger } from '../../common/logger.js';
import { errorMessage } from '../../common/errors.js';
import type { AlertStore, Clock } from './ports.js';
import type { ResponderDispatcher } from './responders/dispatcher.js';

/** BOSH's severities. */
export const Severity = { alert: 1, critical: 2, error: 3, warning: 4 } as const;
export type SeverityLevel = 1 | 2 | 3 | 4;

export type AlertCategory =
  | 'agent_unresponsive'
  | 'vm_missing'
  | 'instance_without_vm'
  | 'unknown_vm'
  | 'rogue_agent'
  | 'container_flapping'
  | 'container_failing'
  | 'dockerd_failing'
  | 'disk_full'
  | 'agent'
  | 'resurrection_started'
  | 'resurrection_succeeded'
  | 'resurrection_failed'
  | 'resurrection_skipped'
  | 'meltdown';

export interface AlertInput {
  severity: SeverityLevel;
  category: AlertCategory;
  title: string;
  summary: string;
  deployment?: string | null;
  instance?: string | null;
}

export class AlertCenter {
  /** Keys of conditions that already alerted, with when their dedup ends (Infinity: until cleared). */
  private readonly active = new Map<string, number>();

  constructor(
    private readonly store: AlertStore,
    private readonly dispatcher: ResponderDispatcher,
    private readonly logger: Logger,
    private readonly clock: Clock = Date.now,
  ) {}

  /**
   * Raises an alert unless `key` already alerted and was not cleared (or its `ttlMs` ran out).
   * Returns the alert, or null when de-duplicated. Never throws: a broken store must not stop
   * the monitor, so the alert still goes to the responders.
   */
  async raise(input: AlertInput, dedup?: { key: string; ttlMs?: number }): Promise<Alert | null> {
    const now = this.clock();
    if (dedup) {
      const until = this.active.get(dedup.key);
      if (until !== undefined && until > now) return null;
      this.active.set(dedup.key, dedup.ttlMs === undefined ? Infinity : now + dedup.ttlMs);
    }
    const alert: Alert = {
      id: randomUUID(),
      severity: input.severity,
      category: input.category,
      title: input.title,
      summary: input.summary,
      deployment: input.deployment ?? null,
      instance: input.instance ?? null,
      createdAt: new Date(now).toISOString(),
    };
    try {
      await this.store.saveAlert(alert);
    } catch (err) {
      this.logger.error('could not store an alert; it is still sent to the responders', {
        alert: alert.title,
        error: errorMessage(err),
      });
    }
    this.dispatcher.dispatch(alert);
    return alert;
  }

  /** The condition behind `key` is over. */
  clear(key: string): void {
    this.active.delete(key);
  }

  /** Clears every key starting with `prefix` (e.g. everything about one agent). */
  clearPrefix(prefix: string): void {
    for (const k of [...this.active.keys()]) if (k.startsWith(prefix)) this.active.delete(k);
  }

  isActive(key: string): boolean {
    const until = this.active.get(key);
    return until !== undefined && until > this.clock();
  }

  activeKeys(): string[] {
    return [...this.active.keys()].filter((k) => this.isActive(k));
  }
}
