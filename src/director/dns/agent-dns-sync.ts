/**
 * One agent's side of the record-set fan-out: which version it acknowledged, whether a push is in
 * flight, and when to try again after a failure. States: `behind` (has an older version or none),
 * `pushing`, `current`, `waiting` (the last push failed: retried after a backoff, or at once when
 * the agent shows it is alive with a heartbeat).
 */
import type { AgentTarget } from '../../common/contracts/agent-connector.js';
import { backoffDelayMs, type BackoffPolicy } from '../../common/waiting.js';

export type AgentDnsState = 'behind' | 'pushing' | 'current' | 'waiting';

export const PUSH_FAILURE_BACKOFF: BackoffPolicy = { initialMs: 250, maxMs: 10_000 };

export class AgentDnsSync {
  state: AgentDnsState = 'behind';
  /** The version the agent said it answers from; null until its first acknowledgement. */
  acked: number | null = null;
  failures = 0;
  retryAtMs = 0;
  /** Send the whole set next time (a new agent, or one that refused a delta). */
  needsFull = true;

  constructor(public target: AgentTarget) {}

  /** Whether a push should start now for `version`. */
  due(version: number, nowMs: number): boolean {
    if (this.state === 'pushing') return false;
    if (this.acked !== null && this.acked >= version) return false;
    return this.state !== 'waiting' || nowMs >= this.retryAtMs;
  }

  acknowledged(version: number, current: number): void {
    this.acked = version;
    this.failures = 0;
    this.needsFull = false;
    this.state = version >= current ? 'current' : 'behind';
  }

  failed(nowMs: number): number {
    this.failures += 1;
    const delay = backoffDelayMs(this.failures, PUSH_FAILURE_BACKOFF);
    this.retryAtMs = nowMs + delay;
    this.state = 'waiting';
    return delay;
  }

  /** A heartbeat came: the agent is alive, so a waiting push may go now. */
  alive(): void {
    if (this.state === 'waiting') this.retryAtMs = 0;
  }
}
