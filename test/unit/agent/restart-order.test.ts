import { afterEach, describe, expect, it } from 'vitest';
import { buildSpec } from '../../helpers/instance-spec-builder.js';
import { applied, lastStartAt, settle, supervise, type Kit } from './supervision-kit.js';

/** Issue 10: a dependency's restart never waits for its dependents. */
describe('restart order (fake engine, no Docker)', () => {
  let kit: Kit;
  afterEach(() => kit?.close());

  const stack = buildSpec([{ name: 'db' }, { name: 'app', dependsOn: ['db'] }, { name: 'web', dependsOn: ['app'] }, { name: 'other' }]);

  it('starts the dead container at once, while a dependent that ignores SIGTERM is still stopping', async () => {
    kit = supervise();
    kit.engine.behave('app', { stopTakesMs: 600 });
    await applied(kit, stack);
    kit.engine.calls.length = 0;
    const diedAt = Date.now();
    kit.engine.crash('db');
    await kit.waitFor('db', (c) => c.state === 'running' && c.restarts === 1, 'db to run again');
    // db is back long before app's stop timeout is over.
    expect(lastStartAt(kit.engine, 'db') - diedAt).toBeLessThan(100);
    expect((await kit.state('app')).state).not.toBe('running');
    await kit.waitFor('web', (c) => c.state === 'running' && lastStartAt(kit.engine, 'web') > 0, 'web to run again');
    // Dependents were stopped concurrently and started after they stopped, in dependency order.
    expect(kit.engine.callsOf('stopContainer').sort()).toEqual(['app', 'web']);
    expect(lastStartAt(kit.engine, 'app')).toBeGreaterThanOrEqual(diedAt + 590);
    expect(lastStartAt(kit.engine, 'web')).toBeGreaterThanOrEqual(lastStartAt(kit.engine, 'app'));
    expect(kit.engine.callsOf('startContainer')).toEqual(['db', 'app', 'web']);
    expect(kit.dependencyViolations).toEqual([]);
    expect(kit.engine.callsOf('startContainer')).not.toContain('other');
  });

  it('a slow dependent does not hold up the other dependents either', async () => {
    kit = supervise();
    kit.engine.behave('slow', { stopTakesMs: 500 });
    await applied(kit, buildSpec([{ name: 'db' }, { name: 'slow', dependsOn: ['db'] }, { name: 'fast', dependsOn: ['db'] }]));
    const diedAt = Date.now();
    kit.engine.crash('db');
    await kit.waitFor('fast', (c) => c.state === 'running' && lastStartAt(kit.engine, 'fast') >= diedAt, 'fast to run again');
    expect(lastStartAt(kit.engine, 'fast') - diedAt).toBeLessThan(150);
    expect((await kit.state('slow')).state).not.toBe('running');
    await kit.waitFor('slow', (c) => c.state === 'running' && lastStartAt(kit.engine, 'slow') >= diedAt, 'slow to run again');
    expect(kit.dependencyViolations).toEqual([]);
  });

  it('a dependent waits until its dependency is healthy again', async () => {
    kit = supervise();
    kit.engine.behave('db', { healthyAfterMs: 200 });
    await applied(kit, buildSpec([{ name: 'db', healthcheck: { test: ['CMD', 'true'], intervalMs: 1000 } }, { name: 'app', dependsOn: ['db'] }]));
    await kit.waitFor('app', (c) => c.state === 'running', 'app to run');
    kit.engine.crash('db');
    await kit.waitFor('app', (c) => c.state === 'running' && kit.engine.callsOf('startContainer').filter((n) => n === 'app').length === 2, 'app to run again');
    expect(lastStartAt(kit.engine, 'app') - lastStartAt(kit.engine, 'db')).toBeGreaterThanOrEqual(190);
    expect(kit.dependencyViolations).toEqual([]);
  });

  it('a dependency that dies again while its dependents are stopping is started again before them', async () => {
    kit = supervise();
    kit.engine.behave('app', { stopTakesMs: 300 });
    await applied(kit, stack);
    kit.engine.crash('db');
    await kit.waitFor('db', (c) => c.state === 'running' && c.restarts === 1, 'db to run again');
    kit.engine.crash('db');
    await kit.waitFor('web', (c) => c.state === 'running' && lastStartAt(kit.engine, 'web') > 0 && lastStartAt(kit.engine, 'app') > 0, 'the stack to run again');
    await settle(100);
    expect((await kit.state('db')).restarts).toBe(2);
    expect((await kit.state('app')).state).toBe('running');
    expect(kit.dependencyViolations).toEqual([]);
  });

  it('an operator stop during a cascade keeps the stopping dependents down', async () => {
    kit = supervise();
    kit.engine.behave('app', { stopTakesMs: 200 });
    await applied(kit, stack);
    kit.engine.crash('db');
    await kit.waitFor('db', (c) => c.state === 'running', 'db to run again');
    await kit.manager.stopAll();
    await settle(300);
    for (const n of ['db', 'app', 'web', 'other']) expect(kit.engine.container(n)?.running).toBe(false);
    expect((await kit.state('app')).state).toBe('stopped');
  });

  it('after dockerd died, kills the containers that outlived it (not with live-restore), so that dockerd restarts at once', async () => {
    kit = supervise();
    await applied(kit, stack);
    const pids = ['db', 'app', 'web', 'other'].map((n) => kit.engine.container(n)?.pid);
    kit.manager.onDockerDown();
    expect(kit.killed.sort()).toEqual(pids.sort());
    kit.close();
    kit = supervise();
    const live = { ...stack, docker: { ...stack.docker, liveRestore: true } };
    await applied(kit, live);
    kit.manager.onDockerDown();
    expect(kit.killed).toEqual([]);
  });
});
