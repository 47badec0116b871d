import { afterEach, describe, expect, it } from 'vitest';
import { buildSpec } from '../../helpers/instance-spec-builder.js';
import { sleep } from '../../../src/common/waiting.js';
import { applied, lastStartAt, supervise, type Kit } from './supervision-kit.js';

/** Container supervision over the fake engine: crash, backoff, cascade, health, reconcile, stop. */
describe('container supervision (fake engine, no Docker)', () => {
  let kit: Kit;
  afterEach(() => kit?.close());

  it('restarts a container that crashes and counts the restart', async () => {
    kit = supervise();
    await applied(kit, buildSpec([{ name: 'a' }]));
    expect((await kit.state('a')).state).toBe('running');
    kit.engine.crash('a', 137);
    const s = await kit.waitFor('a', (c) => c.state === 'running' && c.restarts === 1, 'a to run again');
    expect(s.lastExitCode).toBe(137);
    expect(s.flapping).toBe(false);
    expect(kit.engine.callsOf('startContainer')).toEqual(['a', 'a']);
  });

  it('backs off a container that keeps dying quickly, alerts once, and resets after a good run', async () => {
    kit = supervise();
    await applied(kit, buildSpec([{ name: 'a' }]));
    const gaps: number[] = [];
    for (let i = 0; i < 4; i++) {
      const diedAt = Date.now();
      kit.engine.crash('a');
      await kit.waitFor('a', (c) => c.state === 'running' && c.restarts === i + 1, `restart ${i + 1}`);
      gaps.push(lastStartAt(kit.engine, 'a') - diedAt);
    }
    // 0, then 40, 80, 160 ms (FAST_BACKOFF): each quick death doubles the wait.
    expect(gaps[0]).toBeLessThan(30);
    expect(gaps[1]).toBeGreaterThanOrEqual(35);
    expect(gaps[2]).toBeGreaterThanOrEqual(75);
    expect(gaps[3]).toBeGreaterThanOrEqual(150);
    expect((await kit.state('a')).flapping).toBe(true);
    expect(kit.alerts.filter((a) => a.category === 'container_flapping')).toHaveLength(1);
    // It stays up longer than resetAfterMs: the next death is a first death again (no delay).
    await sleep(350);
    const diedAt = Date.now();
    kit.engine.crash('a');
    await kit.waitFor('a', (c) => c.state === 'running' && c.restarts === 5, 'restart after a good run');
    expect(lastStartAt(kit.engine, 'a') - diedAt).toBeLessThan(30);
    expect((await kit.state('a')).flapping).toBe(false);
  });

  it('restarts the dependents of a dead container after it, in dependency order, and leaves others alone', async () => {
    kit = supervise();
    await applied(kit, buildSpec([{ name: 'a' }, { name: 'b', dependsOn: ['a'] }, { name: 'c', dependsOn: ['b'] }, { name: 'other' }]));
    kit.engine.calls.length = 0;
    kit.engine.crash('a');
    await kit.waitFor('c', (c) => c.state === 'running' && lastStartAt(kit.engine, 'c') > 0, 'c to run again');
    expect(kit.engine.callsOf('startContainer')).toEqual(['a', 'b', 'c']);
    expect(kit.engine.callsOf('stopContainer').sort()).toEqual(['b', 'c']);
    expect((await kit.state('other')).restarts).toBe(0);
    expect(kit.engine.callsOf('startContainer')).not.toContain('other');
  });

  it('restarts a container that becomes unhealthy; its dependents wait until it is healthy again', async () => {
    kit = supervise();
    const hc = { test: ['CMD', 'true'], intervalMs: 1000 };
    kit.engine.behave('db', { healthyAfterMs: 20 });
    await applied(kit, buildSpec([{ name: 'db', healthcheck: hc }, { name: 'app', dependsOn: ['db'] }]));
    await kit.waitFor('app', (c) => c.state === 'running', 'app to run');
    kit.engine.calls.length = 0;
    kit.engine.behave('db', { healthyAfterMs: 150 });
    kit.engine.setHealth('db', 'unhealthy');
    await kit.waitFor('app', (c) => c.state === 'running' && lastStartAt(kit.engine, 'app') > 0, 'app to run again');
    expect((await kit.state('db')).restarts).toBe(1);
    expect(kit.engine.callsOf('stopContainer')).toContain('db');
    const healthyAt = lastStartAt(kit.engine, 'db') + 150;
    expect(lastStartAt(kit.engine, 'app')).toBeGreaterThanOrEqual(healthyAt - 5);
  });

  it('after an agent restart, reconciles with the last spec: running containers keep their ids, missing ones are created', async () => {
    const first = supervise();
    const spec = buildSpec([{ name: 'a' }, { name: 'b', dependsOn: ['a'] }]);
    await applied(first, spec);
    first.close();
    const idA = first.engine.container('a')?.id;
    first.engine.removeByHand('b');
    // A new agent process on the same dockerd, with the spec from its state file.
    kit = supervise({ engine: first.engine });
    kit.manager.load(spec, false);
    kit.engine.calls.length = 0;
    kit.manager.onDockerUp(false);
    await kit.waitFor('b', (c) => c.state === 'running', 'b to be re-created');
    expect(kit.engine.container('a')?.id).toBe(idA);
    expect(kit.engine.callsOf('createContainer')).toEqual(['b']);
    expect(kit.engine.callsOf('startContainer')).toEqual(['b']);
  });

  it('an operator stop keeps containers down, across deaths and dockerd restarts, until start', async () => {
    kit = supervise();
    await applied(kit, buildSpec([{ name: 'a' }, { name: 'b', dependsOn: ['a'] }]));
    await kit.manager.stopAll();
    expect(kit.engine.callsOf('stopContainer').slice(-2)).toEqual(['b', 'a']);
    expect(kit.engine.container('a')?.running).toBe(false);
    kit.engine.down();
    kit.engine.up();
    kit.manager.onDockerUp(true);
    await sleep(100);
    expect(kit.engine.container('a')?.running).toBe(false);
    expect((await kit.state('a')).state).toBe('stopped');
    await kit.manager.startAll();
    expect((await kit.state('b')).state).toBe('running');
  });

  it('starts every container again in dependency order after dockerd came back', async () => {
    kit = supervise();
    await applied(kit, buildSpec([{ name: 'a' }, { name: 'b', dependsOn: ['a'] }]));
    kit.engine.down();
    kit.dockerUp.value = false;
    kit.manager.expectAllDown();
    kit.engine.up();
    kit.dockerUp.value = true;
    kit.engine.calls.length = 0;
    kit.manager.onDockerUp(true);
    await kit.waitFor('b', (c) => c.state === 'running', 'b to run again');
    expect(kit.engine.callsOf('startContainer')).toEqual(['a', 'b']);
    expect((await kit.state('a')).restarts).toBe(0);
  });
});
