import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentState } from '../../src/common/contracts/agent-protocol.js';
import { createAgentVmEnv, IMAGES_DIR, type AgentVm, type AgentVmEnv } from '../helpers/agent-vm-fixture.js';
import { VM_DOCKER_PID_FILE } from '../helpers/in-vm.js';
import { buildSpec, httpServerCmd, type TestContainer } from '../helpers/instance-spec-builder.js';

/** Issue 5: the agent heals containers from Docker's event stream. */
describe('agent self-healing (real dockerd in a local-cloud VM)', () => {
  let env: AgentVmEnv;
  let vm: AgentVm;

  beforeAll(async () => {
    env = await createAgentVmEnv();
    vm = await env.createVm({ heartbeatIntervalMs: 500 });
    await vm.loadImage(join(IMAGES_DIR, 'busybox.tar'));
  }, 120_000);
  afterAll(async () => {
    await env?.cleanup();
  });

  const startedAt = async (name: string): Promise<number> => Date.parse((await (await vm.docker()).getContainer(name).inspect()).State.StartedAt);
  const info = async (name: string) => (await vm.docker()).getContainer(name).inspect();
  const killMain = async (name: string): Promise<void> => {
    const pid = (await info(name)).State.Pid;
    await vm.inVm(['kill', '-9', String(pid)]);
  };
  const container = (s: AgentState, name: string) => s.containers.find((c) => c.name === name);
  const allRunning = async (): Promise<AgentState | false> => {
    const s = await vm.agent.getState();
    return s.jobState === 'running' && s.containers.every((c) => c.state === 'running') ? s : false;
  };

  const chain: TestContainer[] = [
    { name: 'ca', cmd: httpServerCmd(8001), ports: ['18001:8001'], storeVolumes: ['/data'] },
    { name: 'cb', cmd: httpServerCmd(8002), dependsOn: ['ca'] },
    { name: 'cc', cmd: httpServerCmd(8003), dependsOn: ['cb'] },
    { name: 'other', cmd: httpServerCmd(8004) },
  ];

  it('restarts a SIGKILLed container, then its dependents in order, and leaves others alone', async () => {
    await vm.agent.apply(buildSpec(chain));
    const before = { a: await startedAt('ca'), b: await startedAt('cb'), c: await startedAt('cc'), other: await startedAt('other') };
    const killedAt = Date.now();
    await killMain('ca');
    const s = await vm.waitFor('the chain to run again', async () => {
      const st = await allRunning();
      return st && container(st, 'cc')?.restarts === 0 && (await startedAt('cc')) > before.c ? st : false;
    });
    expect(container(s, 'ca')?.restarts).toBe(1);
    expect(container(s, 'ca')?.lastExitCode).toBe(137);
    const after = { a: await startedAt('ca'), b: await startedAt('cb'), c: await startedAt('cc'), other: await startedAt('other') };
    expect(after.a).toBeGreaterThan(before.a);
    // Dependents were restarted after their dependency, in order: a, then b, then c.
    expect(after.b).toBeGreaterThanOrEqual(after.a);
    expect(after.c).toBeGreaterThanOrEqual(after.b);
    expect(after.b).toBeGreaterThan(before.b);
    // The unrelated container kept running.
    expect(after.other).toBe(before.other);
    expect(after.a - killedAt).toBeLessThan(5000);
  });

  it('restarts a chain when its middle dies: only the middle and what depends on it', async () => {
    const before = { a: await startedAt('ca'), b: await startedAt('cb'), c: await startedAt('cc') };
    await killMain('cb');
    await vm.waitFor('b and c to run again', async () => (await allRunning()) && (await startedAt('cc')) > before.c);
    expect(await startedAt('ca')).toBe(before.a);
    expect(await startedAt('cb')).toBeGreaterThan(before.b);
    expect(await startedAt('cc')).toBeGreaterThanOrEqual(await startedAt('cb'));
  });

  it('restarts a container that was stopped with `docker stop` by someone on the VM', async () => {
    const before = await startedAt('other');
    await vm.agent.runCommand('docker stop -t 1 other');
    await vm.waitFor('other to run again', async () => (await allRunning()) && (await startedAt('other')) > before);
  });

  it('backs off a container that exits at once, reports it failing and alerts the director', async () => {
    await vm.agent.apply(buildSpec([...chain, { name: 'crashy', cmd: ['sh', '-c', 'echo about to fail; exit 3'] }])).catch(() => undefined);
    const s = await vm.waitFor('crashy to be flapping', async () => {
      const st = await vm.agent.getState();
      return container(st, 'crashy')?.flapping ? st : false;
    });
    expect(s.jobState).toBe('failing');
    const crashy = container(s, 'crashy');
    expect(crashy?.lastExitCode).toBe(3);
    await vm.waitFor('the last log lines', async () => container(await vm.agent.getState(), 'crashy')?.lastLogLines?.includes('about to fail'));
    await vm.waitFor('a flapping alert at the director', async () => env.director.alerts.some((a) => a.category === 'container_flapping' && a.container === 'crashy'));
    await vm.waitFor('a heartbeat saying failing', async () => env.director.heartbeats.at(-1)?.jobState === 'failing');
    // Backoff: 0, 1, 2, 4 s … so within ~4 s there are only a handful of restarts, not hundreds.
    await new Promise((r) => setTimeout(r, 4000));
    const restarts = container(await vm.agent.getState(), 'crashy')?.restarts ?? 0;
    expect(restarts).toBeGreaterThanOrEqual(3);
    expect(restarts).toBeLessThanOrEqual(6);
    expect(container(await vm.agent.getState(), 'crashy')?.state).toMatch(/restarting|starting/);
    await vm.agent.apply(buildSpec(chain));
    await vm.waitFor('the instance to run again', allRunning);
  });

  it('restarts a container that becomes unhealthy', async () => {
    const healthy: TestContainer = {
      name: 'checked',
      cmd: httpServerCmd(8005, 'touch /tmp/healthy; '),
      healthcheck: { test: ['CMD-SHELL', 'test -f /tmp/healthy'], intervalMs: 300, retries: 1 },
    };
    await vm.agent.apply(buildSpec([...chain, healthy]));
    await vm.waitFor('checked to be healthy', async () => container(await vm.agent.getState(), 'checked')?.health === 'healthy');
    const before = await startedAt('checked');
    await vm.agent.runCommand('docker exec checked rm /tmp/healthy');
    const s = await vm.waitFor('checked to be restarted and healthy', async () => {
      const st = await vm.agent.getState();
      const c = container(st, 'checked');
      return c?.restarts === 1 && c.state === 'running' && c.health === 'healthy' ? st : false;
    });
    expect(await startedAt('checked')).toBeGreaterThan(before);
    expect(s.jobState).toBe('running');
    await vm.agent.apply(buildSpec(chain));
  });

  it('keeps a stopped instance stopped until start', async () => {
    await vm.agent.stop();
    const s = await vm.agent.getState();
    expect(s.jobState).toBe('stopped');
    expect(s.containers.every((c) => c.state === 'stopped')).toBe(true);
    expect((await info('ca')).State.Running).toBe(false);
    await new Promise((r) => setTimeout(r, 500));
    expect((await info('ca')).State.Running).toBe(false);
    await vm.agent.start();
    await vm.waitFor('all to run after start', allRunning);
  });

  it('restarts a SIGKILLed dockerd and starts every container in dependency order, disk data intact', async () => {
    const diskCid = await env.fx.cloud.createDisk(32, {});
    await vm.agent.mountDisk({ diskCid, hint: await env.fx.cloud.attachDisk(vm.vmCid, diskCid), newDisk: true });
    // The disk is mounted before the containers start, as the director does: re-create them.
    await vm.agent.apply(buildSpec(chain.map((c) => ({ ...c, env: { DISK: diskCid } }))));
    await vm.waitFor('all running', allRunning);
    await vm.agent.runCommand('docker exec ca sh -c "echo precious > /data/keep"');
    const dockerdPid = (await vm.readFile(VM_DOCKER_PID_FILE)).trim();
    const killedAt = Date.now();
    await vm.inVm(['kill', '-9', dockerdPid]);
    const s = await vm.waitFor('every container to run again', async () => {
      const st = await allRunning();
      return st && st.dockerd.restarts >= 1 && (await startedAt('cc')) > killedAt ? st : false;
    }, 60_000);
    expect(s.dockerd.state).toBe('running');
    const a = await startedAt('ca');
    const b = await startedAt('cb');
    const c = await startedAt('cc');
    expect(b).toBeGreaterThanOrEqual(a);
    expect(c).toBeGreaterThanOrEqual(b);
    expect((await vm.agent.runCommand('docker exec ca cat /data/keep')).stdout.trim()).toBe('precious');
  }, 90_000);

  it('comes back after the agent is SIGKILLed and does not recreate healthy containers', async () => {
    const ids = Object.fromEntries(await Promise.all(['ca', 'cb', 'cc', 'other'].map(async (n) => [n, (await info(n)).Id] as const)));
    const started = await startedAt('ca');
    // The agent is the VM's only node process (its restart loop is a shell).
    const agentPid = (await vm.inVm(['pgrep', '-x', 'node'])).trim();
    expect(agentPid).toMatch(/^\d+$/);
    await vm.inVm(['kill', '-9', agentPid]);
    await vm.waitFor('the agent to answer after its restart', async () => {
      const pid = (await vm.inVm(['pgrep', '-x', 'node'])).trim();
      return pid !== '' && pid !== agentPid && (await vm.agent.ping()) === 'pong';
    }, 30_000);
    await vm.waitFor('all running', allRunning);
    for (const [n, id] of Object.entries(ids)) expect((await info(n)).Id).toBe(id);
    expect(await startedAt('ca')).toBe(started);
    // Only one dockerd: the restarted agent adopted the running one.
    expect((await vm.inVm(['pgrep', '-x', 'dockerd'])).trim().split('\n')).toHaveLength(1);
  }, 60_000);
});
