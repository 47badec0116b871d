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
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { netnsName } from '../src/cloud/local/network.js';
import type { Director } from '../src/director/director.js';
import { IMAGES_DIR } from '../test/helpers/agent-vm-fixture.js';
import { createLocalDirectorStack } from '../test/helpers/local-director-stack.js';
import { redisCommand } from '../test/helpers/redis-resp.js';
import { sleep, summary, until } from './bench-util.js';

const exec = promisify(execFile);

const MANIFEST = `
name: bench-resurrect
update: {canaries: 1, max_in_flight: 1, canary_watch_time: 500-60000, update_watch_time: 500-60000}
instance_groups:
  - name: redis
    instances: 1
    persistent_disk: 256
    containers:
      - name: redis
        image: redis:7
        entrypoint: redis-server
        command: "--dir /var/lib/redis --appendonly yes --appendfsync always --protected-mode no"
        bind_ports: ["6379:6379"]
        bind_volumes: ["/var/lib/redis"]
`;

async function ended(director: Director, id: number): Promise<void> {
  const t = await director.tasks.wait(id);
  if (t.state !== 'done') throw new Error(`task ${id} (${t.description}) ended ${t.state}: ${t.error}`);
}

export async function run(args: string[]): Promise<unknown> {
  const trials = Math.max(1, Number(args[0] ?? 5));
  const stack = await createLocalDirectorStack();
  try {
    const d = stack.director;
    await ended(d, (await d.uploadImage(join(IMAGES_DIR, 'redis.tar'), undefined, 'admin')).id);
    await ended(d, (await d.deploy({ manifest: MANIFEST }, 'admin')).id);
    const killed = await scenario(stack, trials, 'killed');
    const hung = await scenario(stack, trials, 'hung');
    return {
      settings: { heartbeatIntervalMs: 2000, agentTimeoutMs: 10_000, analyzeIntervalMs: 1000 },
      killed,
      hung,
      targetMs: 20_000,
      metTarget: killed.data.worstMs < 20_000 && hung.data.worstMs < 20_000,
    };
  } finally {
    await stack.close();
  }
}

type Stack = Awaited<ReturnType<typeof createLocalDirectorStack>>;

async function scenario(
  stack: Stack,
  trials: number,
  kind: 'killed' | 'hung',
): Promise<Record<'alert' | 'vmRunning' | 'data', ReturnType<typeof summary>>> {
  const d = stack.director;
  const alertMs: number[] = [];
  const vmRunningMs: number[] = [];
  const dataMs: number[] = [];
  for (let trial = 0; trial < trials; trial++) {
    const [before] = await d.listInstances('bench-resurrect');
    if (!before?.vmCid || !before.ip || !before.agentId) throw new Error('redis/0 has no VM');
    // A healthy start: the agent heartbeats and redis answers.
    await until(async () => d.health.monitor.isResponsive(before.agentId ?? ''), Date.now(), 60_000, 100);
    const value = `value-${trial}-${Date.now()}`;
    await until(
      async () =>
        (await redisCommand(before.ip ?? '', 6379, ['SET', 'bench:key', value]).catch(() => null)) === 'OK',
      Date.now(),
      60_000,
      100,
    );
    const alertsBefore = new Set(
      (await d.listAlerts({ deployment: 'bench-resurrect', limit: 1000 })).map((a) => a.id),
    );

    const pid = await stack.fx.cloud.vmPid(before.vmCid);
    if (pid === null) throw new Error(`VM ${before.vmCid} has no PID 1`);
    const t0 = Date.now();
    if (kind === 'killed') {
      process.kill(pid, 'SIGKILL');
      await exec('ip', ['netns', 'del', netnsName(before.vmCid)]).catch(() => undefined);
    } else {
      // The agent process (and its restart loop) of this VM, found by its settings path.
      await exec('pkill', ['-STOP', '-f', `vms/${before.vmCid}/settings.json`]);
    }

    const alertP = until(
      async () =>
        (await d.listAlerts({ deployment: 'bench-resurrect', limit: 1000 })).some(
          (a) =>
            !alertsBefore.has(a.id) && (a.category === 'vm_missing' || a.category === 'agent_unresponsive'),
        ),
      t0,
      120_000,
    );
    let newIp = '';
    const runningP = until(
      async () => {
        const [i] = await d.listInstances('bench-resurrect', { ps: true });
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
