/**
 * `npm run bench -- deploy`: a deploy of 5 VMs × 3 busybox containers from nothing (one group,
 * 5 instances, canaries 1, max_in_flight 5) on the local cloud with the real agents and dockerds,
 * with the director in process so that its cloud and agent calls can be timed. Prints:
 *   - wallMs: the deploy task, enqueue to done;
 *   - waitingMs: time with at least one cloud or agent call in flight (the union of the intervals:
 *     the 5 instances overlap), split into cloudMs / agentMs (each a union too) and per method;
 *   - directorShareMs = wallMs − waitingMs: the director's own work and its deliberate waits
 *     (watch time, get_state polling interval, agent ping interval), with those settings listed;
 *   - raw: the same 15 containers (same image, command, memory) created and started again directly
 *     on the same 5 dockerds with dockerode (VMs in parallel, containers in order on each VM, as the
 *     agent does), images already present; ratio = wallMs / raw.wallMs.
 *   - external: the same deploy again on a fresh stack whose cloud is ExternalCloud driving
 *     bosun-local-cpi (one process per cloud call), and protocolOverhead: its wall and cloud
 *     times as ratios to the direct local cloud's, and the added milliseconds per cloud call.
 * With BENCH_TIMELINE=1 it also lists every call (start, end in ms from the enqueue; VM) on stderr.
 * Everything it creates is deleted at the end (deployment, VMs, disks, bridge, temp dirs).
 */
import path from 'node:path';
import Docker from 'dockerode';
import type { AgentApi } from '../src/common/contracts/agent-protocol.js';
import { FIRST_PING_DELAY_MS } from '../src/director/agent-client/agent-wait.js';
import { ensureImages, imagesDir } from '../test/helpers/director-fixture.js';
import { hostPathOf, vmPathsOf } from '../test/helpers/in-vm.js';
import { createLocalDirectorStack } from '../test/helpers/local-director-stack.js';
import { ended } from '../test/helpers/waits.js';
import { ExternalCloud } from '../src/cloud/external/index.js';
import type { LocalCloud } from '../src/cloud/local/local-cloud.js';
import { localCpiOptions } from '../test/helpers/local-cpi.js';

const INSTANCES = 5;
const CONTAINERS = ['c1', 'c2', 'c3'];
const WATCH = '500-60000';

const MANIFEST = `
name: bench-deploy
update: {canaries: 1, max_in_flight: ${INSTANCES}, canary_watch_time: ${WATCH}, update_watch_time: ${WATCH}, serial: true}
instance_groups:
  - name: web
    instances: ${INSTANCES}
    containers:
${CONTAINERS.map(
  (c) => `      - name: ${c}
        image: busybox:latest
        command: ["sleep", "86400"]
        memory: 32m
        stop_timeout: 1`,
).join('\n')}
`;

type Interval = [number, number];

/** Records the [start, end] of every call of an object's methods, by `kind.method`. */
class CallClock {
  readonly intervals = new Map<string, Interval[]>();
  /** Every call with the object's tag (e.g. the VM), for the BENCH_TIMELINE=1 listing. */
  readonly calls: Array<{ key: string; tag: string; interval: Interval; ok: boolean }> = [];

  wrap<T extends object>(kind: string, target: T, tag = ''): T {
    return new Proxy(target, {
      get: (obj, prop, receiver) => {
        const value = Reflect.get(obj, prop, receiver) as unknown;
        if (typeof value !== 'function' || typeof prop !== 'string') return value;
        return (...args: unknown[]) => {
          const start = performance.now();
          const done = (ok = true) => {
            const interval: Interval = [start, performance.now()];
            this.add(`${kind}.${prop}`, interval);
            this.calls.push({ key: `${kind}.${prop}`, tag, interval, ok });
          };
          try {
            const result = (value as (...a: unknown[]) => unknown).apply(obj, args);
            if (result instanceof Promise) {
              return result.then(
                (v: unknown) => {
                  done();
                  return v;
                },
                (err: unknown) => {
                  done(false);
                  throw err;
                },
              );
            }
            done();
            return result;
          } catch (err) {
            done(false);
            throw err;
          }
        };
      },
    });
  }

  /** One line per call, in start order, times in ms from `from`. */
  timeline(from: number): string {
    return [...this.calls]
      .sort((a, b) => a.interval[0] - b.interval[0])
      .map((c) => `${Math.round(c.interval[0] - from)}\t${Math.round(c.interval[1] - from)}\t${c.key}\t${c.tag}${c.ok ? '' : '\tfailed'}`)
      .join('\n');
  }

  private add(key: string, interval: Interval): void {
    const list = this.intervals.get(key) ?? [];
    list.push(interval);
    this.intervals.set(key, list);
  }

  /** Total length of the union of the intervals whose key matches, clipped to [from, to]. */
  unionMs(match: (key: string) => boolean, from: number, to: number): number {
    const all = [...this.intervals.entries()]
      .filter(([k]) => match(k))
      .flatMap(([, v]) => v)
      .map(([a, b]): Interval => [Math.max(a, from), Math.min(b, to)])
      .filter(([a, b]) => b > a)
      .sort((x, y) => x[0] - y[0]);
    let total = 0;
    let cur: Interval | null = null;
    for (const iv of all) {
      if (cur && iv[0] <= cur[1]) cur[1] = Math.max(cur[1], iv[1]);
      else {
        if (cur) total += cur[1] - cur[0];
        cur = [...iv];
      }
    }
    if (cur) total += cur[1] - cur[0];
    return Math.round(total);
  }

  byMethod(from: number, to: number): Record<string, { calls: number; unionMs: number }> {
    const out: Record<string, { calls: number; unionMs: number }> = {};
    for (const [k, v] of [...this.intervals.entries()].sort()) {
      const n = v.filter(([a, b]) => b > from && a < to).length;
      if (n > 0) out[k] = { calls: n, unionMs: this.unionMs((x) => x === k, from, to) };
    }
    return out;
  }
}

export async function run(): Promise<unknown> {
  const local = await deployOnLocalCloud();
  const external = await deployThroughExternalCpi();
  return {
    ...local,
    external,
    protocolOverhead: {
      wallRatio: round2(external.wallMs / Math.max(1, local.wallMs)),
      cloudRatio: round2(external.cloudMs / Math.max(1, local.cloudMs)),
      cloudCalls: external.cloudCalls,
    },
  };
}

async function deployOnLocalCloud() {
  await ensureImages(['busybox']);
  const clock = new CallClock();
  // The director as the e2e tests run it, without the health monitor: only the deploy is timed.
  const stack = await createLocalDirectorStack({
    healthMonitor: false,
    wrapCloud: (cloud) => clock.wrap('cloud', cloud),
    wrapAgentConnector: (http) => ({
      connect: (target): AgentApi => clock.wrap('agent', http.connect(target), target.vmCid),
    }),
  });
  const { fx, director } = stack;
  try {
    await ended(director, (await director.uploadImage(path.join(imagesDir, 'busybox.tar'), undefined, 'admin')).id);

    // The deploy, from nothing.
    const t0 = performance.now();
    const task = await director.deploy({ manifest: MANIFEST }, 'admin');
    await ended(director, task.id);
    const t1 = performance.now();
    const wallMs = Math.round(t1 - t0);
    const waitingMs = clock.unionMs((k) => k.startsWith('cloud.') || k.startsWith('agent.'), t0, t1);
    const cloudMs = clock.unionMs((k) => k.startsWith('cloud.'), t0, t1);
    const agentMs = clock.unionMs((k) => k.startsWith('agent.'), t0, t1);
    if (process.env.BENCH_TIMELINE === '1') process.stderr.write(`start\tend\tcall\tvm\n${clock.timeline(t0)}\n`);

    // The same 15 containers directly against the same dockerds.
    const vms = await fx.cloud.listVmCids();
    if (vms.length !== INSTANCES) throw new Error(`expected ${INSTANCES} VMs after the deploy, found ${vms.length}`);
    const dockers: Docker[] = [];
    for (const cid of vms) {
      const pid1 = await fx.cloud.vmPid(cid);
      if (pid1 === null) throw new Error(`VM ${cid} has no PID 1`);
      // The socket lives on a tmpfs private to the VM's mount namespace: reach it through the
      // VM's root as its PID 1 sees it.
      const paths = await vmPathsOf(fx.cloud.vmDir(cid));
      dockers.push(new Docker({ socketPath: hostPathOf(pid1, path.join(paths.run, 'docker.sock')) }));
    }
    const r0 = performance.now();
    await Promise.all(
      dockers.map(async (docker) => {
        for (const c of CONTAINERS) {
          const created = await docker.createContainer({
            name: `raw-${c}`,
            Image: 'busybox:latest',
            Cmd: ['sleep', '86400'],
            StopTimeout: 1,
            HostConfig: { Memory: 32 * 1024 * 1024 },
          });
          await created.start();
        }
      }),
    );
    const rawWallMs = Math.round(performance.now() - r0);
    await Promise.all(
      dockers.map(async (docker) => {
        for (const c of CONTAINERS) await docker.getContainer(`raw-${c}`).remove({ force: true }).catch(() => undefined);
      }),
    );

    await ended(director, (await director.deleteDeployment('bench-deploy', 'admin', { force: true })).id);
    return {
      shape: { vms: INSTANCES, containersPerVm: CONTAINERS.length, canaries: 1, maxInFlight: INSTANCES, image: 'busybox:latest' },
      wallMs,
      waitingMs,
      cloudMs,
      agentMs,
      directorShareMs: wallMs - waitingMs,
      directorSharePercent: Math.round(((wallMs - waitingMs) / wallMs) * 1000) / 10,
      directorSettings: {
        watchTimeMs: WATCH,
        watchPollIntervalMs: director.config.watchPollIntervalMs,
        agentPingIntervalMs: `${FIRST_PING_DELAY_MS} growing to ${director.config.agentPingIntervalMs}`,
      },
      calls: clock.byMethod(t0, t1),
      raw: { containers: INSTANCES * CONTAINERS.length, wallMs: rawWallMs, imagesAlreadyPresent: true },
      ratio: Math.round((wallMs / Math.max(1, rawWallMs)) * 10) / 10,
    };
  } finally {
    await stack.close();
  }
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}

/** The same deploy on a fresh stack whose cloud is ExternalCloud → bosun-local-cpi (one process per call). */
async function deployThroughExternalCpi(): Promise<{ wallMs: number; cloudMs: number; agentMs: number; cloudCalls: number; calls: Record<string, { calls: number; unionMs: number }> }> {
  const clock = new CallClock();
  const stack = await createLocalDirectorStack({
    healthMonitor: false,
    wrapCloud: (cloud) => {
      const { dataDir, bridgeName, subnet } = (cloud as LocalCloud).config;
      return clock.wrap('cloud', new ExternalCloud(localCpiOptions({ data_dir: dataDir, bridge: bridgeName, subnet: subnet.cidr })));
    },
    wrapAgentConnector: (http) => ({ connect: (target): AgentApi => clock.wrap('agent', http.connect(target), target.vmCid) }),
  });
  try {
    const { director } = stack;
    await ended(director, (await director.uploadImage(path.join(imagesDir, 'busybox.tar'), undefined, 'admin')).id);
    const t0 = performance.now();
    await ended(director, (await director.deploy({ manifest: MANIFEST }, 'admin')).id);
    const t1 = performance.now();
    const calls = clock.byMethod(t0, t1);
    await ended(director, (await director.deleteDeployment('bench-deploy', 'admin', { force: true })).id);
    return {
      wallMs: Math.round(t1 - t0),
      cloudMs: clock.unionMs((k) => k.startsWith('cloud.'), t0, t1),
      agentMs: clock.unionMs((k) => k.startsWith('agent.'), t0, t1),
      cloudCalls: Object.entries(calls).filter(([k]) => k.startsWith('cloud.')).reduce((n, [, v]) => n + v.calls, 0),
      calls,
    };
  } finally {
    await stack.close();
  }
}
