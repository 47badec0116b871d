import type { ContainerSpec } from '../../common/contracts/instance-spec.js';

/** What the agent does when a container exits (or turns unhealthy) without the agent asking. */
export type RestartDecision =
  | { kind: 'restart' }
  /** Leave it down, not as a failure: `restart: no`, or `on-failure` after a clean exit. */
  | { kind: 'leave-down' }
  /** `on-failure:N` restarts used up: the container is failed with `reason`. */
  | { kind: 'give-up'; reason: string };

/**
 * The manifest's `restart` for one death. `unhealthy` counts as a failure; `failureRestarts` is
 * how many restarts on-failure has made since the container was created or the operator started it.
 */
export function decideRestart(spec: ContainerSpec, exit: { exitCode?: number; unhealthy?: boolean }, failureRestarts: number): RestartDecision {
  const policy = spec.restartPolicy ?? 'always';
  if (policy === 'always') return { kind: 'restart' };
  if (policy === 'no') return { kind: 'leave-down' };
  const failed = exit.unhealthy === true || exit.exitCode !== 0;
  if (!failed) return { kind: 'leave-down' };
  const max = spec.restartMaxRetries;
  if (max !== undefined && failureRestarts >= max) {
    const what = exit.unhealthy ? 'became unhealthy' : `exited with code ${exit.exitCode ?? 'unknown'}`;
    return {
      kind: 'give-up',
      reason: `Container "${spec.name}" ${what} after ${failureRestarts} restart${failureRestarts === 1 ? '' : 's'}, the most its \`restart: on-failure:${max}\` allows; it stays down. Read its last log lines (\`bosun logs\`), fix the cause, then run \`bosun start\` or deploy again.`,
    };
  }
  return { kind: 'restart' };
}

/** Whether a container found dead (death not seen, e.g. across an agent restart) is started again. */
export function restartsAfter(spec: ContainerSpec, exitCode: number): boolean {
  const policy = spec.restartPolicy ?? 'always';
  return policy === 'always' || (policy === 'on-failure' && exitCode !== 0);
}

/** Whether a container that cannot be created or started is retried on a timer. */
export function retriesFailedStarts(spec: ContainerSpec): boolean {
  return (spec.restartPolicy ?? 'always') !== 'no';
}
