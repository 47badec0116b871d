/**
 * A task's life as an explicit state machine. `cancelling` is a processing task whose cancel was
 * requested: it stops at its next step (checkCancelled) and ends `cancelled`, or ends done/error
 * if it finishes first.
 */
import type { TaskState } from '../../common/contracts/api.js';

const TRANSITIONS: Record<TaskState, readonly TaskState[]> = {
  queued: ['processing', 'cancelled', 'error'],
  processing: ['done', 'error', 'cancelling', 'cancelled'],
  cancelling: ['cancelled', 'done', 'error'],
  done: [],
  error: [],
  cancelled: [],
};

export function canTransition(from: TaskState, to: TaskState): boolean {
  return TRANSITIONS[from].includes(to);
}

export function assertTransition(taskId: number, from: TaskState, to: TaskState): void {
  if (!canTransition(from, to)) {
    throw new Error(`task ${taskId} cannot go from "${from}" to "${to}" (a bug in the director's task runner)`);
  }
}

export function isFinished(state: TaskState): boolean {
  return TRANSITIONS[state].length === 0;
}
