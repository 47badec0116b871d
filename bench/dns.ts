/**
 * `npm run bench -- dns [SECTION…]`: service discovery's figures, one named section each (all by
 * default). The agent's sections:
 * - `containerQueryLatency`: from a container on a real local-cloud VM to its VM's resolver, one
 *   question at a time: through Docker's embedded DNS (user-defined network) and straight to the
 *   VM's address (the default bridge's resolver). Median and p99.
 * - `fakeAgentPropagation`: a push changing one instance's address to 50 fake agents (fake cloud),
 *   until each answers the new address.
 * Further sections (the director's: stop → withdrawn, resurrection → new address) are added to
 * SECTIONS; each returns a JSON object of its own.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { createAgentVmEnv, IMAGES_DIR } from '../test/helpers/agent-vm-fixture.js';
import { buildContainer, buildSpec } from '../test/helpers/instance-spec-builder.js';
import { FakeCloud } from '../src/cloud/fake/fake-cloud.js';
import type { DnsInstance, DnsRecordSet } from '../src/common/contracts/dns-records.js';
import type { AgentApi } from '../src/common/contracts/agent-protocol.js';
import { repoRoot } from './prepare.js';
import { DIRECTOR_SECTIONS } from './dns-director.js';

const exec = promisify(execFile);

export type DnsBenchSection = (args: string[]) => Promise<Record<string, unknown>>;

/** Named sections, run in this order; `npm run bench -- dns NAME` runs only NAME. */
export const SECTIONS: Record<string, DnsBenchSection> = {
  containerQueryLatency,
  fakeAgentPropagation,
  // The director's: bench/dns-director.ts.
  ...DIRECTOR_SECTIONS,
};

export async function run(args: string[]): Promise<unknown> {
  const only = args.filter((a) => a in SECTIONS);
  const figures: Record<string, unknown> = {};
  for (const [name, section] of Object.entries(SECTIONS)) {
    if (only.length > 0 && !only.includes(name)) continue;
    process.stderr.write(`bench dns: ${name} …\n`);
    figures[name] = await section(args);
  }
  return figures;
}

export function percentiles(samplesMs: number[]): { samples: number; medianMs: number; p99Ms: number; maxMs: number } {
  const s = [...samplesMs].sort((a, b) => a - b);
  const at = (q: number): number => s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] ?? NaN;
  const round = (v: number): number => Math.round(v * 100) / 100;
  return { samples: s.length, medianMs: round(at(0.5)), p99Ms: round(at(0.99)), maxMs: round(s.at(-1) ?? NaN) };
}

const DEPLOYMENT = 'bench';

function dbInstance(index: number, address: string): DnsInstance {
  return { deployment: DEPLOYMENT, group: 'db', index, instanceId: `db-${index}`, address, running: true, containers: [{ name: 'redis', healthy: true, ports: [{ port: 6379, protocol: 'tcp' }] }] };
}

async function containerQueryLatency(): Promise<Record<string, unknown>> {
  const queries = 500;
  const env = await createAgentVmEnv();
  try {
    const vm = await env.createVm({ heartbeatIntervalMs: 10_000 });
    await vm.loadImage(join(IMAGES_DIR, 'busybox.tar'));
    const net = await vm.agent.runCommand('docker network create bench-dns-net');
    if (net.exitCode !== 0) throw new Error(`docker network create failed: ${net.stderr}`);
    const probe = buildContainer({ name: 'probe', cmd: ['sleep', '3600'] });
    probe.create.HostConfig.NetworkMode = 'bench-dns-net';
    const spec = buildSpec([], DEPLOYMENT);
    spec.containers.push(probe);
    await vm.agent.apply(spec);
    await vm.agent.updateDns({ kind: 'full', set: { version: 1, instances: [dbInstance(0, '10.9.0.1'), dbInstance(1, '10.9.0.2')], aliases: [] } });
    // The container's pid is in the VM's PID namespace: its namespaces are reached through the VM's /proc.
    const pid = (await (await vm.docker()).getContainer('probe').inspect()).State.Pid;
    const netns = `/proc/${await vm.pid1()}/root/proc/${pid}/ns/net`;
    const probeScript = join(repoRoot, 'dist/bench/dns-probe.js');
    const ask = async (host: string): Promise<{ samplesMs: number[]; failures: number }> => {
      // The question leaves from the container's own network namespace, as its resolver's do.
      const { stdout } = await exec('nsenter', [`--net=${netns}`, process.execPath, probeScript, host, '53', `redis.db.${DEPLOYMENT}.bosun`, String(queries)]);
      return JSON.parse(stdout) as { samplesMs: number[]; failures: number };
    };
    const embedded = await ask('127.0.0.11');
    const direct = await ask(vm.ip);
    return {
      queries,
      viaDockerEmbeddedDns: { ...percentiles(embedded.samplesMs), failures: embedded.failures },
      straightToVmAddress: { ...percentiles(direct.samplesMs), failures: direct.failures },
    };
  } finally {
    await env.cleanup();
  }
}

async function fakeAgentPropagation(): Promise<Record<string, unknown>> {
  const agents = 50;
  const trials = 20;
  const cloud = new FakeCloud({ heartbeatIntervalMs: 60_000 });
  try {
    const apis: AgentApi[] = [];
    const vmCids: string[] = [];
    for (let i = 0; i < agents; i++) {
      const { vmCid } = await cloud.createVm({
        agentId: `dns-bench-${i}`,
        stemcell: 'default',
        cloudProperties: {},
        networks: { default: { ip: '', netmask: '' } },
        diskCids: [],
        env: { directorUrl: 'https://127.0.0.1:25555', caPem: 'ca', certPem: 'cert', keyPem: 'key', heartbeatIntervalMs: 60_000 },
      });
      vmCids.push(vmCid);
      apis.push(cloud.agentConnector.connect({ agentId: `dns-bench-${i}`, vmCid, ip: null }));
    }
    const instances = Array.from({ length: agents }, (_, i) => dbInstance(i, `10.8.${Math.floor(i / 200)}.${(i % 200) + 1}`));
    const first: DnsRecordSet = { version: 1, instances, aliases: [] };
    await Promise.all(apis.map((a) => a.updateDns({ kind: 'full', set: first })));
    const everyAgent: number[] = [];
    const lastAgent: number[] = [];
    for (let t = 0; t < trials; t++) {
      const address = `10.7.0.${t + 1}`;
      const t0 = performance.now();
      const answered = new Array<number>(agents);
      const push = { kind: 'delta' as const, baseVersion: t + 1, version: t + 2, upsert: [dbInstance(0, address)], remove: [] };
      await Promise.all(
        apis.map(async (api, i) => {
          await api.updateDns(push);
          const fake = cloud.agentOfVm(vmCids[i] as string);
          const a = fake?.resolveDns(`0.redis.db.${DEPLOYMENT}.bosun`, 'A');
          if (a?.answers[0]?.type !== 'A' || a.answers[0].address !== address) throw new Error(`agent ${i} does not answer ${address} after the push`);
          answered[i] = performance.now() - t0;
        }),
      );
      everyAgent.push(...answered);
      lastAgent.push(Math.max(...answered));
    }
    return { agents, trials, perAgentPushToAnswer: percentiles(everyAgent), lastAgentAnswers: percentiles(lastAgent) };
  } finally {
    cloud.shutdown();
  }
}
