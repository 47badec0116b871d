/**
 * The life of one supervised container as an explicit state machine (CONVENTIONS #5). The
 * container manager feeds it events (from Docker's event stream and from its own actions) and
 * reads the state to decide what to do; transitions not in the table are refused, which is what
 * the unit test checks.
 */
export type SupervisorState =
  | 'pending' // known from the spec, not started yet (or waiting for its dependencies)
  | 'starting' // start issued, waiting for running (and healthy where a health check exists)
  | 'running'
  | 'backoff' // died; waiting for the backoff delay before the next start
  | 'stopping' // the agent is stopping it on purpose (stop, replace, cascade)
  | 'stopped' // stopped on purpose; stays down until started
  | 'exited' // exited and its restart policy leaves it down (`no`, or `on-failure` after exit 0)
  | 'failed'; // could not be created or started, or used up its on-failure:N restarts

export type SupervisorEvent =
  | 'start' // the agent issues a start
  | 'started' // Docker reports running (and healthy, when there is a health check)
  | 'died' // it exited without the agent asking (crash, OOM, `docker stop` by someone, unhealthy)
  | 'stop' // the agent stops it on purpose
  | 'stopped' // the stop the agent asked for completed
  | 'wait' // a dependency is down: wait without starting
  | 'fail' // create/start failed, or on-failure:N restarts used up
  | 'completed' // it exited and its restart policy says to leave it down
  | 'reset'; // the agent re-reads the truth from Docker (dockerd restarted, container re-created)

const TRANSITIONS: Record<SupervisorState, Partial<Record<SupervisorEvent, SupervisorState>>> = {
  pending: { start: 'starting', stop: 'stopping', stopped: 'stopped', wait: 'pending', fail: 'failed', started: 'running', died: 'backoff', completed: 'exited' },
  starting: { started: 'running', died: 'backoff', fail: 'failed', stop: 'stopping', start: 'starting', completed: 'exited' },
  running: { died: 'backoff', stop: 'stopping', started: 'running', start: 'running', fail: 'failed', completed: 'exited' },
  backoff: { start: 'starting', stop: 'stopping', wait: 'pending', stopped: 'stopped', fail: 'failed', died: 'backoff' },
  stopping: { stopped: 'stopped', died: 'stopped', fail: 'failed', stop: 'stopping' },
  stopped: { start: 'starting', wait: 'pending', stop: 'stopped', stopped: 'stopped', died: 'stopped', started: 'running', fail: 'failed' },
  exited: { start: 'starting', wait: 'pending', stop: 'stopped', stopped: 'stopped', died: 'exited', completed: 'exited', fail: 'failed' },
  failed: { start: 'starting', wait: 'pending', stop: 'stopped', stopped: 'stopped', fail: 'failed', died: 'failed' },
};

// `reset` is allowed from every state: after it, the next heal decides from what Docker reports.
for (const state of Object.keys(TRANSITIONS) as SupervisorState[]) TRANSITIONS[state].reset = 'pending';

export function canTransition(from: SupervisorState, event: SupervisorEvent): boolean {
  return TRANSITIONS[from][event] !== undefined;
}

export function transition(from: SupervisorState, event: SupervisorEvent): SupervisorState {
  const to = TRANSITIONS[from][event];
  if (to === undefined) throw new Error(`A container supervisor in state "${from}" cannot handle "${event}".`);
  return to;
}
