import { describe, expect, it } from 'vitest';
import { canTransition, dockerdTransition, reportedState, type DockerdEvent, type DockerdState } from '../../../src/agent/docker-daemon/dockerd-state.js';

const run = (from: DockerdState, events: DockerdEvent[]): DockerdState => events.reduce((s, e) => dockerdTransition(s, e), from);

describe('dockerd supervisor state machine', () => {
  it('first start: idle → starting → running; an adoption goes straight to running', () => {
    expect(run('idle', ['spawn'])).toBe('starting');
    expect(run('idle', ['spawn', 'up'])).toBe('running');
    expect(run('idle', ['up'])).toBe('running');
    expect(reportedState('idle')).toBe('starting');
  });

  it('a death restarts it: running → restarting → running, and keeps trying while it does not answer', () => {
    expect(run('running', ['exit'])).toBe('restarting');
    expect(run('running', ['exit', 'spawn', 'exit', 'spawn', 'up'])).toBe('running');
    expect(run('running', ['exit', 'spawn', 'exit', 'give-up'])).toBe('failed');
    expect(run('failed', ['spawn', 'up'])).toBe('running');
    expect(reportedState('restarting')).toBe('restarting');
    expect(reportedState('failed')).toBe('failed');
  });

  it('a first dockerd that never answers is failed too, but its later up is a first start (never-up)', () => {
    expect(run('idle', ['spawn', 'exit', 'spawn', 'exit', 'give-up'])).toBe('never-up');
    expect(reportedState('never-up')).toBe('failed');
    expect(run('never-up', ['spawn', 'up'])).toBe('running');
  });

  it('a restart on purpose ignores the exit it causes', () => {
    expect(run('running', ['replace', 'exit', 'spawn', 'up'])).toBe('running');
    expect(run('running', ['replace', 'exit'])).toBe('replacing');
    expect(reportedState('replacing')).toBe('restarting');
  });

  it('once detached, nothing brings it back', () => {
    for (const e of ['spawn', 'up', 'exit', 'give-up', 'replace', 'detach'] as const) expect(run('running', ['detach', e])).toBe('detached');
  });

  it('refuses transitions that make no sense', () => {
    expect(canTransition('running', 'spawn')).toBe(false);
    expect(canTransition('running', 'up')).toBe(false);
    expect(canTransition('running', 'give-up')).toBe(false);
    expect(canTransition('idle', 'exit')).toBe(false);
    expect(() => dockerdTransition('running', 'spawn')).toThrow(/cannot handle "spawn"/);
  });
});
