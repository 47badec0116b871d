/**
 * What a task's function receives: an event log writer, a step helper with timings, the
 * cancellation check, and a logger. Events never carry secrets: `data` is scrubbed of
 * secret-looking keys before it is stored.
 */
import type { Logger } from '../../common/logger.js';
import type { TaskEvent } from '../../common/contracts/api.js';
import { redactValue } from '../../common/redact.js';

export type TaskEventInput = Omit<TaskEvent, 'seq' | 'time'>;

export interface TaskContext {
  readonly taskId: number;
  readonly user: string;
  readonly logger: Logger;
  /**
   * Aborts when the task must stop now: an operator cancelled it, or it lost its lock (the reason
   * is a LockLostError). Long waits take it; checkCancelled throws the same reason between steps.
   */
  readonly signal?: AbortSignal;
  event(event: TaskEventInput): Promise<void>;
  /**
   * Runs `fn` as one step of a stage: writes `started`, then `finished` (or `failed` with the
   * error) with the elapsed time. Checks for cancellation before starting.
   */
  step<T>(stage: string, step: string, index: number, total: number, fn: () => Promise<T>): Promise<T>;
  /** Throws CancelledError when a cancel was requested, LockLostError when the task's lock was lost; call it between steps. */
  checkCancelled(): Promise<void>;
}

/** Replaces secrets, at any depth, by "<redacted>" (the one redaction module, src/common/redact.ts). */
export function scrubSecrets(value: unknown): unknown {
  return redactValue(value);
}
