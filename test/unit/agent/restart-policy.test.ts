import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FailureRestartsFile } from '../../../src/agent/containers/failure-restarts-file.js';
import { buildSpec } from '../../helpers/instance-spec-builder.js';
import { EngineError } from '../../../src/agent/docker-engine/docker-engine.js';
import { applied, settle, supervise, type Kit } from './supervision-kit.js';

const startsOf = (kit: Kit, name: string): number => kit.engine.callsOf('startContainer').filter((n) => n === name).length;

/** Issue 10: the manifest's `restart:` is honoured by the agent. */
describe('restart policies (fake engine, no Docker)', () => {
  let kit: Kit;
  afterEach(() => kit?.close());

  it('restart: no — a one-shot container that exits stays exited, is not restarted and not flapping', async () => {
    kit = supervise();
    kit.engine.behave('job', { exitOnStart: 0 });
    await applied(kit, buildSpec([{ name: 'job', restart: 'no' }, { name: 'app', dependsOn: ['job'] }]));
    const s = await kit.waitFor('job', (c) => c.state === 'exited', 'job to have exited');
    await settle(200);
    expect(startsOf(kit, 'job')).toBe(1);
    expect(s).toMatchObject({ restarts: 0, flapping: false, lastExitCode: 0 });
    expect((await kit.state('job')).state).toBe('exited');
    // A dependency that completed cleanly lets its dependents run.
    expect((await kit.state('app')).state).toBe('running');
    expect(kit.alerts).toEqual([]);
  });

  it('restart: no — not restarted after a failure, a dockerd restart or an agent restart either', async () => {
    kit = supervise();
    const spec = buildSpec([{ name: 'srv', restart: 'no' }, { name: 'job', restart: 'no' }]);
    kit.engine.behave('job', { exitOnStart: 3 });
    await applied(kit, spec);
    await kit.waitFor('job', (c) => c.state === 'exited' && c.lastExitCode === 3, 'job to have exited with 3');
    // dockerd dies and comes back: srv died with it and is not started again.
    kit.engine.down();
    kit.engine.up();
    kit.manager.onDockerUp(true, false);
    await settle(100);
    expect(startsOf(kit, 'srv')).toBe(1);
    expect((await kit.state('srv')).state).toBe('exited');
    // A new agent process: the exited containers stay exited.
    kit.close();
    const engine = kit.engine;
    kit = supervise({ engine });
    kit.manager.load(spec, false);
    kit.manager.onDockerUp(false);
    await settle(100);
    expect(startsOf(kit, 'srv')).toBe(1);
    expect(startsOf(kit, 'job')).toBe(1);
    expect((await kit.state('job')).state).toBe('exited');
  });

  it('restart: on-failure — restarted after a non-zero exit, left down after exit 0', async () => {
    kit = supervise();
    await applied(kit, buildSpec([{ name: 'w', restart: 'on-failure' }]));
    kit.engine.crash('w', 1);
    await kit.waitFor('w', (c) => c.state === 'running' && c.restarts === 1, 'w to be restarted');
    kit.engine.crash('w', 0);
    await kit.waitFor('w', (c) => c.state === 'exited', 'w to stay exited');
    await settle(100);
    expect(startsOf(kit, 'w')).toBe(2);
  });

  it('restart: on-failure:2 — two restarts, then failed with a reason, and not retried by a timer', async () => {
    kit = supervise();
    kit.engine.behave('w', { exitOnStart: 3 });
    await applied(kit, buildSpec([{ name: 'w', restart: 'on-failure:2' }, { name: 'app', dependsOn: ['w'] }]));
    const s = await kit.waitFor('w', (c) => c.state === 'failed', 'w to be failed');
    expect(s.restarts).toBe(2);
    expect(s.lastExitCode).toBe(3);
    expect(s.lastError).toMatch(/"w" exited with code 3 after 2 restarts, the most its `restart: on-failure:2` allows/);
    expect(kit.alerts.filter((a) => a.category === 'container_failing').map((a) => a.container)).toEqual(['w']);
    await settle(500);
    expect(startsOf(kit, 'w')).toBe(3);
    expect((await kit.state('app')).state).not.toBe('running');
    expect(kit.dependencyViolations).toEqual([]);
    // The operator's start tries again, with a fresh count.
    kit.engine.behave('w', { exitOnStart: undefined });
    await kit.manager.startAll();
    await kit.waitFor('app', (c) => c.state === 'running', 'app to run after start');
  });

  it('restart: on-failure:3 — an agent restart does not give a crash-looping container fresh restarts', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bosun-failure-restarts-'));
    try {
      const failureRestarts = new FailureRestartsFile(join(dir, 'on-failure-restarts.json'));
      kit = supervise({ manager: { failureRestarts } });
      const spec = buildSpec([{ name: 'w', restart: 'on-failure:3' }]);
      await applied(kit, spec);
      kit.engine.crash('w', 1);
      await kit.waitFor('w', (c) => c.state === 'running' && c.restarts === 1, 'w to be restarted once');
      kit.engine.crash('w', 1);
      await kit.waitFor('w', (c) => c.state === 'running' && c.restarts === 2, 'w to be restarted twice');
      expect(failureRestarts.load()).toEqual({ w: 2 });
      // A new agent process adopts the running container and its count.
      kit.close();
      const engine = kit.engine;
      kit = supervise({ engine, manager: { failureRestarts: new FailureRestartsFile(failureRestarts.path) } });
      kit.manager.load(spec, false);
      kit.manager.onDockerUp(false);
      await settle(100);
      kit.engine.crash('w', 1);
      await kit.waitFor('w', (c) => c.state === 'running' && c.restarts === 1, 'w to use its third restart');
      kit.engine.crash('w', 1);
      const s = await kit.waitFor('w', (c) => c.state === 'failed', 'w to be failed after its third restart');
      expect(s.lastError).toMatch(/after 3 restarts, the most its `restart: on-failure:3` allows/);
      // The operator's start gives a fresh count, and it is saved.
      await kit.manager.startAll();
      expect(failureRestarts.load()).toEqual({});
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('restart: always (the default) — restarted even after exit 0', async () => {
    kit = supervise();
    await applied(kit, buildSpec([{ name: 'a' }, { name: 'b', restart: 'always' }]));
    kit.engine.crash('a', 0);
    kit.engine.crash('b', 0);
    await kit.waitFor('a', (c) => c.state === 'running' && c.restarts === 1, 'a to be restarted');
    await kit.waitFor('b', (c) => c.state === 'running' && c.restarts === 1, 'b to be restarted');
  });

  it('restart: no — an unhealthy container is reported, not restarted', async () => {
    kit = supervise();
    kit.engine.behave('db', { healthyAfterMs: 10 });
    await applied(kit, buildSpec([{ name: 'db', restart: 'no', healthcheck: { test: ['CMD', 'true'], intervalMs: 1000 } }]));
    await kit.waitFor('db', (c) => c.state === 'running', 'db to be healthy');
    kit.engine.setHealth('db', 'unhealthy');
    await kit.waitFor('db', (c) => c.state === 'unhealthy', 'db to be reported unhealthy');
    await settle(100);
    expect(startsOf(kit, 'db')).toBe(1);
  });
});

/** Issue 10: a failed container is retried on a timer with backoff, not left until the next event. */
describe('failed containers are retried on a timer (fake engine, no Docker)', () => {
  let kit: Kit;
  afterEach(() => kit?.close());

  it('retries a container that cannot be created, with growing delays, until it runs', async () => {
    kit = supervise();
    kit.engine.failNext('createContainer', new EngineError('no space left on device', 500), { target: 'a', times: 3 });
    kit.manager.onDockerUp(false);
    await expect(kit.manager.apply(buildSpec([{ name: 'a' }]))).rejects.toThrow(/"a".*could not be created: no space left on device/);
    expect((await kit.state('a')).state).toBe('failed');
    // No event comes: the timer alone brings it up.
    await kit.waitFor('a', (c) => c.state === 'running', 'a to run after retries');
    const creates = kit.engine.calls.filter((c) => c.op === 'createContainer').map((c) => c.atMs);
    expect(creates).toHaveLength(4);
    const gaps = creates.slice(1).map((t, i) => t - (creates[i] ?? 0));
    // FAST_BACKOFF: 60, 120, 240 ms.
    expect(gaps[0]).toBeGreaterThanOrEqual(55);
    expect(gaps[1]).toBeGreaterThanOrEqual(115);
    expect(gaps[2]).toBeGreaterThanOrEqual(235);
    expect(kit.alerts.filter((a) => a.category === 'container_failing')).toHaveLength(1);
  });

  it('retries a container that cannot be started, and resets the backoff once it runs', async () => {
    kit = supervise();
    kit.engine.failNext('startContainer', new EngineError('port is already allocated', 500), { target: 'a', times: 2 });
    kit.manager.onDockerUp(false);
    await expect(kit.manager.apply(buildSpec([{ name: 'a' }]))).rejects.toThrow(/port is already allocated/);
    await kit.waitFor('a', (c) => c.state === 'running', 'a to run after retries');
    kit.engine.failNext('startContainer', new EngineError('port is already allocated', 500), { target: 'a', times: 1 });
    const diedAt = Date.now();
    kit.engine.crash('a');
    await kit.waitFor('a', (c) => c.state === 'running' && c.restarts === 1, 'a to run again');
    const last = kit.engine.calls.filter((c) => c.op === 'startContainer').at(-1)?.atMs ?? 0;
    // First retry after a good run: the initial delay again (60 ms), not the grown one (240 ms).
    expect(last - diedAt).toBeLessThan(180);
  });

  it('does not retry a failed container of a stopped instance', async () => {
    kit = supervise();
    kit.engine.failNext('createContainer', new EngineError('boom', 500), { target: 'a', times: 1 });
    kit.manager.onDockerUp(false);
    await kit.manager.apply(buildSpec([{ name: 'a' }])).catch(() => undefined);
    await kit.manager.stopAll();
    await settle(200);
    expect(kit.engine.callsOf('createContainer')).toEqual(['a']);
  });
});
