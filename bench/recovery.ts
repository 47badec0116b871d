/**
 * `npm run bench -- recovery [trials]`: how fast the agent heals, measured from the outside (a TCP
 * port answering again), next to Docker's own `RestartPolicy: always` on the same dockerd.
 *   - one container SIGKILLed → its port answers again (bosun vs Docker's restart policy)
 *   - a 3-container chain, root SIGKILLed → all three restarted and answering
 *   - dockerd SIGKILLed → every container answers again
 *   - a root whose dependent ignores SIGTERM (busybox httpd as PID 1, Docker's default 10 s stop
 *     timeout), SIGKILLed → the root answers again; next to the root of the chain above, whose
 *     dependents stop at once: the two must be within noise (a root never waits for a dependent)
 * Each container stays up 11 s (> the 10 s backoff reset) between kills, so each trial measures a first restart.
 */
import { join } from 'node:path';
import { createAgentVmEnv, IMAGES_DIR, type AgentVm } from '../test/helpers/agent-vm-fixture.js';
import { VM_DOCKER_PID_FILE } from '../test/helpers/in-vm.js';
import { buildSpec, httpServerCmd } from '../test/helpers/instance-spec-builder.js';
import { summary, sleep, tcpAnswers, until } from './bench-util.js';

const SPACING_MS = 11_000;

async function killMain(vm: AgentVm, name: string): Promise<void> {
  const pid = (await (await vm.docker()).getContainer(name).inspect()).State.Pid;
  await vm.inVm(['kill', '-9', String(pid)]);
}

async function startedAfter(vm: AgentVm, name: string, t: number): Promise<boolean> {
  const info = await (await vm.docker()).getContainer(name).inspect();
  return info.State.Running && Date.parse(info.State.StartedAt) >= t - 5;
}

export async function run(args: string[]): Promise<unknown> {
  const trials = Number(args[0] ?? 20);
  const daemonTrials = Number(args[1] ?? 5);
  const env = await createAgentVmEnv();
  try {
    const vm = await env.createVm({ heartbeatIntervalMs: 5000 });
    await vm.loadImage(join(IMAGES_DIR, 'busybox.tar'));
    await vm.agent.apply(
      buildSpec([
        { name: 'single', cmd: httpServerCmd(8000), ports: ['18000:8000'] },
        { name: 'root', cmd: httpServerCmd(8001), ports: ['18001:8001'] },
        { name: 'mid', cmd: httpServerCmd(8002), ports: ['18002:8002'], dependsOn: ['root'] },
        { name: 'leaf', cmd: httpServerCmd(8003), ports: ['18003:8003'], dependsOn: ['mid'] },
        { name: 'sroot', cmd: httpServerCmd(8005), ports: ['18005:8005'] },
        // PID 1 without a TERM handler: `docker stop` waits the whole default timeout.
        { name: 'slowdep', cmd: ['httpd', '-f', '-p', '8006', '-h', '/'], ports: ['18006:8006'], dependsOn: ['sroot'] },
      ]),
    );
    // The same container under Docker's own restart policy, on the same dockerd (no bosun labels).
    const docker = await vm.docker();
    const native = await docker.createContainer({
      name: 'native',
      Image: 'busybox:latest',
      Cmd: httpServerCmd(8009),
      ExposedPorts: { '8009/tcp': {} },
      HostConfig: { PortBindings: { '8009/tcp': [{ HostPort: '18009' }] }, RestartPolicy: { Name: 'always' } },
    });
    await native.start();
    const ip = vm.ip;
    await until(async () => (await Promise.all([18000, 18001, 18002, 18003, 18005, 18006, 18009].map((p) => tcpAnswers(ip, p)))).every(Boolean), Date.now());
    await sleep(SPACING_MS);

    const bosun: number[] = [];
    const dockerOwn: number[] = [];
    const chain: number[] = [];
    const chainRoot: number[] = [];
    const slowDepRoot: number[] = [];
    for (let i = 0; i < trials; i++) {
      let t = Date.now();
      await killMain(vm, 'single');
      bosun.push(await until(async () => (await startedAfter(vm, 'single', t)) && tcpAnswers(ip, 18000), t));

      t = Date.now();
      await killMain(vm, 'native');
      dockerOwn.push(await until(async () => (await startedAfter(vm, 'native', t)) && tcpAnswers(ip, 18009), t));

      t = Date.now();
      await killMain(vm, 'root');
      const rootAt = t;
      chainRoot.push(await until(async () => (await startedAfter(vm, 'root', rootAt)) && tcpAnswers(ip, 18001), t));
      chain.push(
        await until(async () => {
          for (const [n, p] of [['root', 18001], ['mid', 18002], ['leaf', 18003]] as const) {
            if (!(await startedAfter(vm, n, t)) || !(await tcpAnswers(ip, p))) return false;
          }
          return true;
        }, t),
      );

      t = Date.now();
      await killMain(vm, 'sroot');
      const srootAt = t;
      slowDepRoot.push(await until(async () => (await startedAfter(vm, 'sroot', srootAt)) && tcpAnswers(ip, 18005), t));
      // The slow dependent comes back after its 10 s stop timeout; wait for it before the next trial.
      await until(async () => (await startedAfter(vm, 'slowdep', srootAt)) && tcpAnswers(ip, 18006), t, 60_000);
      // Every container must stay up past the 10 s backoff reset before it is killed again, or the
      // next trial would measure a backoff delay instead of a first restart.
      await sleep(SPACING_MS);
    }

    const daemon: number[] = [];
    const daemonSlowDepRoot: number[] = [];
    for (let i = 0; i < daemonTrials; i++) {
      const pid = (await vm.readFile(VM_DOCKER_PID_FILE)).trim();
      const t = Date.now();
      await vm.inVm(['kill', '-9', pid]);
      daemonSlowDepRoot.push(
        await until(async () => {
          try {
            return (await startedAfter(vm, 'sroot', t)) && (await tcpAnswers(ip, 18005));
          } catch {
            return false; // dockerd not answering yet
          }
        }, t, 60_000, 50),
      );
      daemon.push(
        await until(async () => {
          try {
            for (const [n, p] of [['single', 18000], ['root', 18001], ['mid', 18002], ['leaf', 18003]] as const) {
              if (!(await startedAfter(vm, n, t)) || !(await tcpAnswers(ip, p))) return false;
            }
            return true;
          } catch {
            return false; // dockerd not answering yet
          }
        }, t, 60_000, 50),
      );
      await sleep(SPACING_MS);
    }

    const b = summary(bosun);
    const d = summary(dockerOwn);
    return {
      containerSigkill: { bosun: b, dockerRestartAlways: d, medianRatio: Math.round((b.medianMs / Math.max(1, d.medianMs)) * 100) / 100, target: 'ratio ≤ 1.3 and bosun median < 1000 ms' },
      chainRootSigkill: { ...summary(chain), target: '< 2000 ms' },
      rootWithSlowStoppingDependent: {
        rootWithoutSlowDependent: summary(chainRoot),
        rootWithSlowDependent: summary(slowDepRoot),
        medianDifferenceMs: summary(slowDepRoot).medianMs - summary(chainRoot).medianMs,
        afterDockerdSigkill: summary(daemonSlowDepRoot),
        target: 'the two medians within noise (a root never waits for a dependent that ignores SIGTERM)',
      },
      dockerdSigkill: { ...summary(daemon), target: '< 10000 ms' },
    };
  } finally {
    await env.cleanup();
  }
}
