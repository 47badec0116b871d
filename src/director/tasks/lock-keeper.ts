/**
 * Keeps a running task's locks: renews them every third of their lifetime and notices when one is
 * lost (renewal found no row of this task, another task took it, or it expired before a renewal
 * went through). A lost lock aborts `signal`; the task stops at its next step with LockLostError,
 * because from then on another task (a resurrection, a deploy) may act on the same deployment.
 */
import { ConflictError, errorMessage } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';
import type { LocksRepository } from '../../store/repositories/locks.js';

export class LockLostError extends ConflictError {
  constructor(taskId: number, lock: string, why: string) {
    super(
      `Task ${taskId} lost its lock ${describeLockName(lock)} (${why}) and stopped before its next step, so that it never acts alongside another task on the same deployment. ` +
        'Check what runs now with "bosun locks" and "bosun tasks", then run the command again (its steps are safe to repeat).',
      { details: { lock, taskId } },
    );
  }
}

export function describeLockName(name: string): string {
  return name.startsWith('deployment:') ? `on deployment "${name.slice('deployment:'.length)}"` : `"${name}"`;
}

/** Renewal interval floor, so that a tiny TTL (tests) does not hammer the database. */
const MIN_RENEW_INTERVAL_MS = 100;

export class LockKeeper {
  private readonly controller = new AbortController();
  private readonly expiresAt = new Map<string, number>();
  private readonly timer: NodeJS.Timeout;
  private renewing: Promise<void> = Promise.resolve();

  constructor(
    private readonly locks: Pick<LocksRepository, 'renew'>,
    private readonly taskId: number,
    names: readonly string[],
    private readonly ttlMs: number,
    private readonly logger: Logger,
    /** When the locks were taken (their expiry is counted from it). */
    takenAtMs: number = Date.now(),
  ) {
    for (const n of names) this.expiresAt.set(n, takenAtMs + ttlMs);
    this.timer = setInterval(() => {
      this.renewing = this.renewing.then(() => this.renewAll());
    }, Math.max(MIN_RENEW_INTERVAL_MS, Math.floor(ttlMs / 3)));
    this.timer.unref();
  }

  /** Aborts when a lock was lost; its reason is the LockLostError. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Throws the LockLostError when a lock was lost or has expired without a renewal. */
  check(): void {
    if (!this.controller.signal.aborted) {
      const now = Date.now();
      for (const [name, at] of this.expiresAt) if (now >= at) this.lose(name, 'it expired before it could be renewed');
    }
    if (this.controller.signal.aborted) throw this.controller.signal.reason as Error;
  }

  /** Stops renewing (the task ended); waits for a renewal in progress. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.renewing;
  }

  private async renewAll(): Promise<void> {
    for (const name of this.expiresAt.keys()) {
      if (this.controller.signal.aborted) return;
      const startedAt = Date.now();
      try {
        if (await this.locks.renew(name, this.taskId, this.ttlMs)) this.expiresAt.set(name, startedAt + this.ttlMs);
        else this.lose(name, 'another task took it, or it expired');
      } catch (err) {
        // One failed renewal is not a loss yet: the lock holds until it expires.
        this.logger.warn('could not renew a task lock; retrying', { lock: name, error: errorMessage(err) });
        const at = this.expiresAt.get(name) ?? 0;
        if (Date.now() >= at) this.lose(name, `renewing it failed until it expired: ${errorMessage(err)}`);
      }
    }
  }

  private lose(name: string, why: string): void {
    if (this.controller.signal.aborted) return;
    this.logger.error('task lost its lock; it stops at its next step', { lock: name, why });
    this.controller.abort(new LockLostError(this.taskId, name, why));
  }
}
