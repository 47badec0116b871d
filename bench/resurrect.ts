/**
 * `npm run bench -- resurrect [trials]`: how fast a lost VM comes back, at the default health
 * settings (heartbeat 2 s, agent timeout 10 s, analysis every 1 s), on the local cloud with the
 * real agent, dockerd and redis. Two scenarios, `trials` each:
 *   - killed: the VM is killed from outside (SIGKILL of its PID 1 and `ip netns del`): the cloud
 *     reports it gone at the next analysis;
 *   - hung: the agent is frozen (SIGSTOP; dockerd and redis keep running): only the missing
 *     heartbeats tell, after the 10 s agent timeout.
 * Each trial measures from the failure:
 *   - alertMs: the first alert about the instance (vm_missing / agent_unresponsive);
 *   - vmRunningMs: the instance on a new VM whose agent reports its containers running;
 *   - dataMs: redis on the new VM answers GET with the value written before the kill.
 * Target: dataMs < 20 s.
 */
import { redisCommand } from '../test/helpers/redis-resp.js';
import { createRedisStack, redisInstance, redisManifest } from '../test/helpers/redis-deployment.js';
import type { LocalDirectorStack } from '../test/helpers/local-director-stack.js';
import { freezeAgent, killVm } from '../test/helpers/vm-faults.js';
import { sleep, summary, until } from './bench-util.js';

const DEPLOYMENT = 'bench-resurrect';

export async function run(args: string[]): Promise<unknown> {
  const trials = Math.max(1, Number(args[0] ?? 5));
  const stack = await createRedisStack(redisManifest({ name: DEPLOYMENT, diskMiB: 256 }));
  try {
    const killed = await scenario(stack, trials, 'killed');
    const hung = await scenario(stack, trials, 'hung');
    return {
      settings: { heartbeatIntervalMs: 2000, heartbeatTimeoutMs: 10_000, analyzeIntervalMs: 1000 },
      killed,
      hung,
      targetMs: 20_000,
      metTarget: killed.data.worstMs < 20_000 && hung.data.worstMs < 20_000,
    };
  } finally {
    await stack.close();
  }
}

async function scenario(
  stack: LocalDirectorStack,
  trials: number,
  kind: 'killed' | 'hung',
): Promise<Record<'alert' | 'vmRunning' | 'data', ReturnType<typeof summary>>> {
  const d = stack.director;
  const alertMs: number[] = [];
  const vmRunningMs: number[] = [];
  const dataMs: number[] = [];
  for (let trial = 0; trial < trials; trial++) {
    const before = await redisInstance(d, DEPLOYMENT);
    const agentId = before.agentId;
    if (!agentId) throw new Error('redis/0 has no agent');
    // A healthy start: the agent heartbeats and redis answers.
    await until(async () => d.health.monitor.isResponsive(agentId), Date.now(), 60_000, 100);
    const value = `value-${trial}-${Date.now()}`;
    await until(
      async () =>
        (await redisCommand(before.ip, 6379, ['SET', 'bench:key', value]).catch(() => null)) === 'OK',
      Date.now(),
      60_000,
      100,
    );
    const alertsBefore = new Set(
      (await d.listAlerts({ deployment: DEPLOYMENT, limit: 1000 })).map((a) => a.id),
    );

    const t0 =
      kind === 'killed' ? await killVm(stack.fx.cloud, before.vmCid) : await freezeAgent(stack.fx.cloud, before.vmCid);

    const alertP = until(
      async () =>
        (await d.listAlerts({ deployment: DEPLOYMENT, limit: 1000 })).some(
          (a) =>
            !alertsBefore.has(a.id) && (a.category === 'vm_missing' || a.category === 'agent_unresponsive'),
        ),
      t0,
      120_000,
    );
    let newIp = '';
    const runningP = until(
      async () => {
        const [i] = await d.listInstances(DEPLOYMENT, { ps: true });
        if (!i?.vmCid || i.vmCid === before.vmCid || !i.ip) return false;
        newIp = i.ip;
        return i.containers?.every((c) => c.state === 'running') === true && (i.containers?.length ?? 0) > 0;
      },
      t0,
      120_000,
      50,
    );
    const dataP = (async () => {
      await runningP.catch(() => undefined);
      return until(
        async () => (await redisCommand(newIp, 6379, ['GET', 'bench:key']).catch(() => null)) === value,
        t0,
        120_000,
      );
    })();
    const [a, r, v] = await Promise.all([alertP, runningP, dataP]);
    alertMs.push(a);
    vmRunningMs.push(r);
    dataMs.push(v);
    process.stderr.write(`${kind} ${trial + 1}/${trials}: alert ${a} ms, VM running ${r} ms, data ${v} ms\n`);
    await sleep(1000);
  }
  return { alert: summary(alertMs), vmRunning: summary(vmRunningMs), data: summary(dataMs) };
}
