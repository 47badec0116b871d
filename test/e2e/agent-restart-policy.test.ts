import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentState } from '../../src/common/contracts/agent-protocol.js';
import { createAgentVmEnv, IMAGES_DIR, type AgentVm, type AgentVmEnv } from '../helpers/agent-vm-fixture.js';
import { VM_DOCKER_PID_FILE } from '../helpers/in-vm.js';
import { buildSpec, type TestContainer } from '../helpers/instance-spec-builder.js';
import { redisCommand } from '../helpers/redis-resp.js';

/** Issue 10: a dependency's restart never waits for its dependents; `restart:` is honoured. */
describe('agent restart order and restart policies (real dockerd in a local-cloud VM)', () => {
  let env: AgentVmEnv;
  let vm: AgentVm;

  beforeAll(async () => {
    env = await createAgentVmEnv();
    vm = await env.createVm({ heartbeatIntervalMs: 500 });
    await vm.loadImage(join(IMAGES_DIR, 'busybox.tar'));
    await vm.loadImage(join(IMAGES_DIR, 'redis.tar'));
  }, 120_000);
  afterAll(async () => {
    await env?.cleanup();
  });

  const info = async (name: string) => (await vm.docker()).getContainer(name).inspect();
  const startedAt = async (name: string): Promise<number> => Date.parse((await info(name)).State.StartedAt);
  const container = (s: AgentState, name: string) => s.containers.find((c) => c.name === name);
  const pong = async (): Promise<boolean> => (await redisCommand(vm.ip, 16379, ['PING'], 500).catch(() => null)) === 'PONG';
  const allRunning = async (): Promise<AgentState | false> => {
    const s = await vm.agent.getState();
    return s.jobState === 'running' && s.containers.every((c) => c.state === 'running') ? s : false;
  };
  const pollMs = async (what: string, fn: () => Promise<boolean>, timeoutMs: number): Promise<number> => {
    const t = Date.now();
    await vm.waitFor(what, async () => (await fn()) || false, timeoutMs);
    return Date.now() - t;
  };

  // busybox httpd as PID 1 ignores SIGTERM: `docker stop` waits the whole default timeout (10 s).
  const stack: TestContainer[] = [
    { name: 'redis', image: 'redis:7', entrypoint: ['redis-server'], cmd: ['--protected-mode', 'no', '--save', ''], ports: ['16379:6379'] },
    { name: 'slowweb', cmd: ['httpd', '-f', '-p', '8080', '-h', '/'], dependsOn: ['redis'] },
  ];

  it('a redis whose dependent ignores SIGTERM answers again in about a second, not after the stop timeout', async () => {
    await vm.agent.apply(buildSpec(stack));
    await vm.waitFor('the stack to run', allRunning);
    await vm.waitFor('redis to answer', async () => (await pong()) || false);
    const pid = (await info('redis')).State.Pid;
    const killedAt = Date.now();
    await vm.inVm(['kill', '-9', String(pid)]);
    const answeredAfterMs = await pollMs('redis to answer again', pong, 20_000);
    expect(answeredAfterMs).toBeLessThan(3000);
    // The dependent went down with its own stop timeout and came back after it, once redis ran.
    await vm.waitFor('slowweb to run again', async () => (await allRunning()) && (await startedAt('slowweb')) > killedAt, 40_000);
    expect((await startedAt('slowweb')) - killedAt).toBeGreaterThanOrEqual(9000);
    expect(await startedAt('slowweb')).toBeGreaterThan(await startedAt('redis'));
  }, 90_000);

  it('after dockerd is SIGKILLed, redis answers again without waiting for the dependent\'s stop timeout', async () => {
    await vm.waitFor('the stack to run', allRunning);
    const dockerdPid = (await vm.readFile(VM_DOCKER_PID_FILE)).trim();
    const killedAt = Date.now();
    await vm.inVm(['kill', '-9', dockerdPid]);
    // Containers (and their port proxies) outlive a SIGKILLed dockerd: wait for the restarted redis.
    const restarted = async (): Promise<boolean> => {
      try {
        return (await startedAt('redis')) > killedAt && (await pong());
      } catch {
        return false; // dockerd not answering yet
      }
    };
    const answeredAfterMs = await pollMs('redis to answer after the dockerd restart', restarted, 60_000);
    // About 2 s; ~12.5 s when the next dockerd first stops the surviving dependent with its stop timeout.
    expect(answeredAfterMs).toBeLessThan(6000);
    await vm.waitFor('the stack to run again', allRunning, 60_000);
  }, 90_000);

  it('restart: no — a one-shot container that exits 0 stays exited and is not flapping', async () => {
    await vm.agent.apply(buildSpec([...stack, { name: 'oneshot', cmd: ['sh', '-c', 'echo done'], restart: 'no' }]));
    const s = await vm.waitFor('oneshot to have exited', async () => {
      const st = await vm.agent.getState();
      return container(st, 'oneshot')?.state === 'exited' ? st : false;
    });
    const finishedAt = (await info('oneshot')).State.FinishedAt;
    await new Promise((r) => setTimeout(r, 3000));
    const later = await vm.agent.getState();
    expect(container(later, 'oneshot')).toMatchObject({ state: 'exited', restarts: 0, flapping: false, lastExitCode: 0 });
    expect((await info('oneshot')).State.FinishedAt).toBe(finishedAt);
    expect(s.jobState).toBe('running');
    expect(later.jobState).toBe('running');
    expect(env.director.alerts.filter((a) => a.container === 'oneshot')).toEqual([]);
  }, 60_000);

  it('restart: on-failure:2 — two restarts, then failed with the reason', async () => {
    await vm.agent.apply(buildSpec([...stack, { name: 'fails', cmd: ['sh', '-c', 'echo failing; exit 4'], restart: 'on-failure:2' }])).catch(() => undefined);
    const s = await vm.waitFor('fails to be failed', async () => {
      const st = await vm.agent.getState();
      return container(st, 'fails')?.state === 'failed' ? st : false;
    });
    const fails = container(s, 'fails');
    expect(fails?.restarts).toBe(2);
    expect(fails?.lastExitCode).toBe(4);
    expect(fails?.lastError).toMatch(/on-failure:2/);
    expect(s.jobState).toBe('failing');
    await new Promise((r) => setTimeout(r, 2000));
    expect(container(await vm.agent.getState(), 'fails')?.restarts).toBe(2);
    expect((await info('fails')).State.Running).toBe(false);
    await vm.agent.apply(buildSpec(stack));
  }, 60_000);
});
