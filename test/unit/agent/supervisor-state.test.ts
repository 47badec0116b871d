import { describe, expect, it } from 'vitest';
import { canTransition, transition, type SupervisorEvent, type SupervisorState } from '../../../src/agent/containers/supervisor-state.js';

const run = (from: SupervisorState, events: SupervisorEvent[]): SupervisorState => events.reduce((s, e) => transition(s, e), from);

describe('container supervisor state machine', () => {
  it('goes pending → starting → running, and back through backoff after a crash', () => {
    expect(run('pending', ['start'])).toBe('starting');
    expect(run('pending', ['start', 'started'])).toBe('running');
    expect(run('pending', ['start', 'started', 'died'])).toBe('backoff');
    expect(run('pending', ['start', 'started', 'died', 'start', 'started'])).toBe('running');
  });

  it('a stop on purpose ends in stopped, and a die during it is not a crash', () => {
    expect(run('running', ['stop', 'died'])).toBe('stopped');
    expect(run('running', ['stop', 'stopped'])).toBe('stopped');
    expect(run('stopped', ['start', 'started'])).toBe('running');
  });

  it('a cascade parks a dependent in pending until its dependency runs', () => {
    expect(run('running', ['stop', 'stopped', 'wait'])).toBe('pending');
    expect(run('backoff', ['wait'])).toBe('pending');
  });

  it('a failed create is retried by a later start', () => {
    expect(run('pending', ['fail'])).toBe('failed');
    expect(run('failed', ['start', 'started'])).toBe('running');
  });

  it('refuses transitions that make no sense', () => {
    expect(canTransition('running', 'wait')).toBe(false);
    expect(() => transition('running', 'wait')).toThrow(/cannot handle "wait"/);
    expect(canTransition('stopping', 'start')).toBe(false);
    expect(canTransition('starting', 'stopped')).toBe(false);
  });

  it('a container whose restart policy leaves it down after it exits is exited, until started again', () => {
    expect(run('running', ['completed'])).toBe('exited');
    expect(run('starting', ['completed'])).toBe('exited');
    expect(run('exited', ['died'])).toBe('exited');
    expect(run('exited', ['start', 'started'])).toBe('running');
    expect(run('exited', ['stop'])).toBe('stopped');
    expect(canTransition('backoff', 'completed')).toBe(false);
    expect(canTransition('stopping', 'completed')).toBe(false);
  });

  it('reset is allowed from every state and leads to pending', () => {
    for (const s of ['pending', 'starting', 'running', 'backoff', 'stopping', 'stopped', 'exited', 'failed'] as const) {
      expect(transition(s, 'reset')).toBe('pending');
    }
  });
});
