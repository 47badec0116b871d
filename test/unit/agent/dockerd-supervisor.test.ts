import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/common/logger.js';
import type { AgentSettings } from '../../../src/common/contracts/agent-settings.js';
import { DockerdSupervisor } from '../../../src/agent/docker-daemon/dockerd-supervisor.js';
import { DEFAULT_DOCKER_SPEC, dockerdArgs, dockerdPaths } from '../../../src/agent/docker-daemon/dockerd-args.js';
import { FakeDockerEngine } from '../../../src/agent/docker-engine/fake-engine.js';
import { pollUntil } from '../../../src/common/waiting.js';

/**
 * The dockerd supervisor without dockerd: the "dockerd" binary is a script that only sleeps (and
 * records its pid), and "answers on its socket" is the fake engine's ping.
 */
describe('dockerd supervisor (fake dockerd, fake engine)', () => {
  let dir: string;
  let sup: DockerdSupervisor | undefined;
  const pids: number[] = [];
  afterEach(() => {
    sup?.detach();
    const last = join(dir, 'fake-dockerd.pid');
    if (existsSync(last)) pids.push(Number(readFileSync(last, 'utf8').trim()));
    for (const p of pids) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    pids.length = 0;
    rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 });
  });

  function setup(): { settings: AgentSettings; ups: Array<[boolean, boolean]>; downs: number[]; binary: string; pidOf: () => Promise<number> } {
    dir = mkdtempSync(join(tmpdir(), 'bosun-dockerd-sup-'));
    const paths = { root: dir, store: join(dir, 'store'), migration: join(dir, 'migration'), ephemeral: join(dir, 'ephemeral'), run: join(dir, 'run') };
    for (const p of Object.values(paths)) mkdirSync(p, { recursive: true });
    const settings = { agentId: 'a1', vmCid: 'vm-1', paths, cgroupParent: '/bosun-vm-1' } as unknown as AgentSettings;
    const binary = join(dir, 'fake-dockerd');
    writeFileSync(binary, `#!/bin/sh\necho $$ > ${join(dir, 'fake-dockerd.pid')}\nexec sleep 60\n`);
    chmodSync(binary, 0o755);
    const ups: Array<[boolean, boolean]> = [];
    const downs: number[] = [];
    // The pid the last fake dockerd wrote (it may not have written it yet when it "answers").
    const pidOf = async (): Promise<number> => {
      const file = join(dir, 'fake-dockerd.pid');
      const pid = await pollUntil(async () => Promise.resolve(existsSync(file) ? Number(readFileSync(file, 'utf8').trim()) || undefined : undefined), { timeoutMs: 5000, intervalMs: 10, what: 'the fake dockerd pid' });
      rmSync(file);
      pids.push(pid);
      return pid;
    };
    return { settings, ups, downs, binary, pidOf };
  }

  const until = <T>(what: string, probe: () => T | undefined | false): Promise<T> =>
    pollUntil(async () => Promise.resolve(probe() || undefined), { timeoutMs: 5000, intervalMs: 10, what });

  it('starts dockerd, restarts it after a death (counted), and restarts it on purpose (not counted)', async () => {
    const { settings, ups, downs, binary, pidOf } = setup();
    const engine = new FakeDockerEngine();
    sup = new DockerdSupervisor(settings, silentLogger, { onUp: (r, p) => ups.push([r, p]), onDown: () => downs.push(Date.now()), onFailing: () => undefined }, binary, engine);
    expect(sup.machineState).toBe('idle');
    await sup.start(null);
    await sup.waitUntilUp(5000);
    expect(sup.machineState).toBe('running');
    expect(ups).toEqual([[false, false]]);

    process.kill(await pidOf(), 'SIGKILL');
    await until('dockerd to be back', () => ups.length === 2);
    expect(ups[1]).toEqual([true, false]);
    expect(downs).toHaveLength(1);
    expect(sup.restarts).toBe(1);
    expect(sup.state).toBe('running');

    const changed = await sup.ensureOptions({ ...DEFAULT_DOCKER_SPEC, debug: true });
    expect(changed).toBe(true);
    expect(ups[2]).toEqual([true, true]);
    expect(sup.restarts).toBe(1);
    expect(downs).toHaveLength(1);
  });

  it('reports restarting while dockerd does not answer, and running once it does', async () => {
    const { settings, ups, binary, pidOf } = setup();
    const engine = new FakeDockerEngine();
    sup = new DockerdSupervisor(settings, silentLogger, { onUp: (r, p) => ups.push([r, p]), onDown: () => undefined, onFailing: () => undefined }, binary, engine);
    await sup.start(null);
    await sup.waitUntilUp(5000);
    engine.down();
    process.kill(await pidOf(), 'SIGKILL');
    await until('the supervisor to see the death', () => sup?.machineState === 'restarting');
    expect(sup.state).toBe('restarting');
    expect(sup.isUp).toBe(false);
    engine.up();
    await sup.waitUntilUp(5000);
    expect(ups.at(-1)).toEqual([true, false]);
  });

  it('adopts a dockerd a previous agent started, and restarts it when that one dies', async () => {
    const { settings, ups, binary, pidOf } = setup();
    const paths = dockerdPaths(settings);
    const previous = spawn('sleep', ['60'], { stdio: 'ignore', detached: true });
    pids.push(previous.pid ?? 0);
    writeFileSync(paths.pidFile, String(previous.pid));
    writeFileSync(paths.argsFile, JSON.stringify(dockerdArgs(settings, paths, DEFAULT_DOCKER_SPEC)));
    const engine = new FakeDockerEngine();
    sup = new DockerdSupervisor(settings, silentLogger, { onUp: (r, p) => ups.push([r, p]), onDown: () => undefined, onFailing: () => undefined }, binary, engine);
    await sup.start(null);
    expect(sup.machineState).toBe('running');
    expect(ups).toEqual([[false, false]]);
    previous.kill('SIGKILL');
    await until('the adopted dockerd to be replaced', () => ups.length === 2);
    expect(ups[1]).toEqual([true, false]);
    // The replacement may not have written its pid file yet: wait for it, so that it is killed
    // after the test instead of writing into the directory being removed.
    await pidOf();
  });
  it("runs dockerd with the docker job's environment and installs the registry CAs the instance names", async () => {
    const { settings, binary, pidOf } = setup();
    const envFile = join(dir, 'dockerd-env');
    writeFileSync(binary, `#!/bin/sh\necho "$HTTP_PROXY" > ${envFile}\necho $$ > ${join(dir, 'fake-dockerd.pid')}\nexec sleep 600\n`);
    const certsDir = join(dir, 'certs.d');
    const engine = new FakeDockerEngine();
    sup = new DockerdSupervisor(settings, silentLogger, { onUp: () => undefined, onDown: () => undefined, onFailing: () => undefined }, binary, engine, certsDir);
    const spec = {
      ...DEFAULT_DOCKER_SPEC,
      env: { HTTP_PROXY: 'http://proxy.internal:3128' },
      registryCaCerts: [
        { domain: 'registry.internal:5000', caCert: 'PEM of the private registry' },
        { domain: '../../etc', caCert: 'must not be written' },
      ],
    };
    await sup.start(spec);
    await sup.waitUntilUp(5000);
    await pidOf();
    expect(readFileSync(envFile, 'utf8').trim()).toBe('http://proxy.internal:3128');
    expect(readFileSync(join(certsDir, 'registry.internal:5000', 'ca.crt'), 'utf8')).toBe('PEM of the private registry');
    expect(existsSync(join(dir, 'etc', 'ca.crt'))).toBe(false);

    // Only a changed environment (same flags) restarts dockerd; a new CA alone does not.
    expect(await sup.ensureOptions({ ...spec, registryCaCerts: [{ domain: 'other.internal', caCert: 'x' }] })).toBe(false);
    expect(existsSync(join(certsDir, 'other.internal', 'ca.crt'))).toBe(true);
    expect(await sup.ensureOptions({ ...spec, env: { HTTP_PROXY: 'http://proxy2.internal:3128' } })).toBe(true);
    await pidOf();
    expect(readFileSync(envFile, 'utf8').trim()).toBe('http://proxy2.internal:3128');
  });
});
