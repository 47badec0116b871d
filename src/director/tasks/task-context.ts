/**
 * What a task's function receives: an event log writer, a step helper with timings, the
 * cancellation check, and a logger. Events never carry secrets: `data` is scrubbed of
 * secret-looking keys before it is stored.
 */
import type { Logger } from '../../common/logger.js';
import type { TaskEvent } from '../../common/contracts/api.js';

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

const SECRET_KEY = /pass(word)?|secret|token|private|credential|(^|_|-)key$|keyPem|certPem/i;

/** Replaces values of secret-looking keys, at any depth, by "<redacted>". */
export function scrubSecrets(value: unknown, depth = 0): unknown {
  if (depth > 8 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => scrubSecrets(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    out[k] = SECRET_KEY.test(k) ? '<redacted>' : scrubSecrets(v, depth + 1);
  }
  return out;
}
