import type { Logger } from '../common/logger.js';
import { errorMessage } from '../common/errors.js';
import type { Heartbeat } from '../common/contracts/agent-protocol.js';

/** How long an early heartbeat waits for more changes (a cascade of container moves sends one heartbeat). */
export const EARLY_HEARTBEAT_DEBOUNCE_MS = 30;

/**
 * Sends a heartbeat every interval, and one soon after a container's state or health changes
 * (`soon`), so the director learns of it at once rather than at the next interval. A failure is
 * logged and the next tick simply tries again: the agent keeps supervising whether or not the
 * director is there.
 */
export class HeartbeatLoop {
  private timer: NodeJS.Timeout | null = null;
  private early: NodeJS.Timeout | null = null;
  private failing = false;

  constructor(
    private readonly intervalMs: number,
    private readonly build: () => Promise<Heartbeat>,
    private readonly send: (hb: Heartbeat) => Promise<void>,
    private readonly log: Logger,
  ) {}

  start(): void {
    if (this.timer) return;
    void this.tick();
    this.timer = setInterval(() => void this.tick(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (this.early) clearTimeout(this.early);
    this.early = null;
  }

  /** A heartbeat within `debounceMs`, whatever the interval says; calls meanwhile share it. */
  soon(debounceMs = EARLY_HEARTBEAT_DEBOUNCE_MS): void {
    if (!this.timer || this.early) return;
    this.early = setTimeout(() => {
      this.early = null;
      void this.tick();
    }, debounceMs);
    this.early.unref();
  }

  private async tick(): Promise<void> {
    try {
      await this.send(await this.build());
      if (this.failing) this.log.info('heartbeats reach the director again');
      this.failing = false;
    } catch (err) {
      // Log the first failure of a run at warn, the rest at debug: the director may be away for long.
      if (!this.failing) this.log.warn('heartbeat failed; retrying on the next tick', { error: errorMessage(err) });
      else this.log.debug('heartbeat failed', { error: errorMessage(err) });
      this.failing = true;
    }
  }
}
