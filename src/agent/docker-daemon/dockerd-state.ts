/**
 * The life of the VM's dockerd as seen by its supervisor, one string-union state machine
 * (CONVENTIONS #5). Whether an "up" is a first start, a restart after a death or a restart the
 * agent asked for is read from the state it comes from, not from flags.
 */
export type DockerdState =
  | 'idle' // not started (or adopted) yet
  | 'starting' // the agent's first dockerd: spawned, not answering yet
  | 'running' // answers on its socket
  | 'restarting' // died or never answered; spawned again after a backoff delay
  | 'replacing' // the agent stops and starts it on purpose (its options changed)
  | 'failed' // after a death, several starts in a row never answered; still retried with backoff
  | 'never-up' // the first dockerd of this agent never answered, several times; still retried
  | 'detached'; // the agent stopped supervising; dockerd is left running

export type DockerdEvent =
  | 'spawn' // a dockerd process was started
  | 'up' // it answers (or a running one was adopted)
  | 'exit' // it exited, or was killed for not answering
  | 'give-up' // too many failed starts in a row
  | 'replace' // the agent restarts it with other options
  | 'detach'; // the agent closes

const TRANSITIONS: Record<DockerdState, Partial<Record<DockerdEvent, DockerdState>>> = {
  idle: { spawn: 'starting', up: 'running', replace: 'replacing', detach: 'detached' },
  starting: { spawn: 'starting', up: 'running', exit: 'starting', 'give-up': 'never-up', replace: 'replacing', detach: 'detached' },
  running: { exit: 'restarting', replace: 'replacing', detach: 'detached' },
  restarting: { spawn: 'restarting', up: 'running', exit: 'restarting', 'give-up': 'failed', replace: 'replacing', detach: 'detached' },
  // Its exit is the agent's doing: the supervisor spawns the new one itself.
  replacing: { spawn: 'replacing', up: 'running', exit: 'replacing', replace: 'replacing', detach: 'detached' },
  'never-up': { spawn: 'never-up', up: 'running', exit: 'never-up', 'give-up': 'never-up', replace: 'replacing', detach: 'detached' },
  failed: { spawn: 'failed', up: 'running', exit: 'failed', 'give-up': 'failed', replace: 'replacing', detach: 'detached' },
  detached: { spawn: 'detached', up: 'detached', exit: 'detached', 'give-up': 'detached', replace: 'detached', detach: 'detached' },
};

export function canTransition(from: DockerdState, event: DockerdEvent): boolean {
  return TRANSITIONS[from][event] !== undefined;
}

export function dockerdTransition(from: DockerdState, event: DockerdEvent): DockerdState {
  const to = TRANSITIONS[from][event];
  if (to === undefined) throw new Error(`The dockerd supervisor in state "${from}" cannot handle "${event}".`);
  return to;
}

/** What the agent reports (get_state, heartbeats). */
export function reportedState(s: DockerdState): 'running' | 'starting' | 'restarting' | 'failed' {
  switch (s) {
    case 'idle':
    case 'starting':
      return 'starting';
    case 'running':
    case 'detached':
      return 'running';
    case 'restarting':
    case 'replacing':
      return 'restarting';
    case 'failed':
    case 'never-up':
      return 'failed';
  }
}
