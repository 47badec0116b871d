import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DnsRecordSet } from '../../src/common/contracts/dns-records.js';
import { linkAliasDnsName } from '../../src/common/dns-names.js';
import { createAgentVmEnv, IMAGES_DIR, type AgentVm, type AgentVmEnv } from '../helpers/agent-vm-fixture.js';
import { buildContainer, buildSpec, httpServerCmd } from '../helpers/instance-spec-builder.js';
import { askDns } from '../helpers/dns-client.js';

/**
 * Issue 15, the agent's side: the real agent in a local-cloud VM answers DNS on the VM's address
 * (port 53) from a record set pushed with updateDns, containers resolve through it (a user-defined
 * network goes through Docker's embedded DNS first), it withdraws its own dead container at once,
 * and keeps answering from disk after an agent restart.
 */
describe('agent DNS (real agent and dockerd in a local-cloud VM)', () => {
  let env: AgentVmEnv;
  let vm: AgentVm;
  const deployment = 'dnse2e';
  const set = (version: number): DnsRecordSet => ({
    version,
    instances: [
      {
        deployment,
        group: 'g',
        index: 0,
        instanceId: 'own-0',
        address: vm.ip,
        running: true,
        containers: [
          { name: 'web', healthy: true, ports: [{ port: 8080, protocol: 'tcp' }] },
          { name: 'probe', healthy: true, ports: [] },
        ],
      },
      { deployment, group: 'db', index: 0, instanceId: 'db-0', address: '10.9.0.1', running: true, containers: [{ name: 'redis', healthy: true, ports: [{ port: 6379, protocol: 'tcp' }] }] },
    ],
    aliases: [{ name: linkAliasDnsName(deployment, 'g', 'probe', 'cache'), target: `redis.db.${deployment}.bosun` }],
  });
  const inProbe = (command: string): Promise<{ exitCode: number; stdout: string; stderr: string }> => vm.agent.runCommand(`docker exec probe sh -c '${command}'`, 30_000);

  beforeAll(async () => {
    env = await createAgentVmEnv();
    // A long interval: a heartbeat within a second of a container's death is the agent's early one.
    vm = await env.createVm({ heartbeatIntervalMs: 60_000 });
    await vm.loadImage(join(IMAGES_DIR, 'busybox.tar'));
    const net = await vm.agent.runCommand('docker network create dns-e2e-net');
    expect(net.exitCode, net.stderr).toBe(0);
    const probe = buildContainer({ name: 'probe', cmd: ['sleep', '3600'] });
    probe.create.HostConfig.NetworkMode = 'dns-e2e-net';
    const spec = buildSpec([{ name: 'web', cmd: httpServerCmd(8080), restart: 'no' }], deployment);
    spec.containers.push(probe);
    await vm.agent.apply(spec);
  }, 180_000);
  afterAll(async () => {
    await env?.cleanup();
  }, 60_000);

  it('answers a pushed record set on the VM address, port 53, over UDP and TCP', async () => {
    expect(await vm.agent.updateDns({ kind: 'full', set: set(1) })).toEqual({ version: 1 });
    for (const transport of ['udp', 'tcp'] as const) {
      const a = await askDns(vm.ip, 53, `REDIS.db.${deployment}.bosun`, 'A', { transport });
      expect(a.answers).toMatchObject([{ type: 'A', address: '10.9.0.1', ttl: 1 }]);
    }
    expect((await askDns(vm.ip, 53, `nope.${deployment}.bosun`)).rcode).toBe('NXDOMAIN');
  });

  it('a container on a user-defined network resolves through Docker’s embedded DNS to the agent; other names fail at once', async () => {
    await vm.agent.updateDns({ kind: 'full', set: set(2) });
    const full = await inProbe(`nslookup redis.db.${deployment}.bosun`);
    expect(full.stdout, full.stderr).toContain('10.9.0.1');
    // The deployment's and the link's search domains: `redis.db` and the link alias `cache`.
    const resolv = await inProbe('cat /etc/resolv.conf');
    expect(resolv.stdout).toContain(`search probe.g.${deployment}.links.bosun ${deployment}.bosun`);
    expect(resolv.stdout).toContain('ndots:2');
    const short = await inProbe('ping -c 1 -W 1 redis.db 2>&1; ping -c 1 -W 1 cache 2>&1; true');
    expect(short.stdout.match(/10\.9\.0\.1/g)?.length ?? 0, short.stdout).toBeGreaterThanOrEqual(2);
    // A name outside .bosun: the local cloud's VM has no upstream resolver, so it fails at once.
    const outside = await inProbe('time nslookup example.com 2>&1; echo "rc=$?"');
    expect(outside.stdout).toContain('SERVFAIL');
    // busybox time: "real\t0m 0.01s" on stderr.
    const real = /real\s+(\d+)m\s*([\d.]+)s/.exec(outside.stderr + outside.stdout);
    const ms = real ? (Number(real[1]) * 60 + Number(real[2])) * 1000 : NaN;
    process.stderr.write(`agent-dns e2e: a name outside .bosun failed in a container after ${ms} ms\n`);
    expect(ms, JSON.stringify(outside)).toBeLessThan(1000);
  }, 60_000);

  it('withdraws its own dead container from its answers at once and tells the director within a second', async () => {
    const name = `web.g.${deployment}.bosun`;
    expect((await askDns(vm.ip, 53, name)).answers).toMatchObject([{ address: vm.ip }]);
    const beats = env.director.heartbeats.length;
    const pid = (await (await vm.docker()).getContainer('web').inspect()).State.Pid;
    const killedAt = Date.now();
    await vm.inVm(['kill', '-9', String(pid)]);
    await vm.waitFor('web withdrawn', async () => (await askDns(vm.ip, 53, name)).answers.length === 0, 5_000);
    const withdrawnMs = Date.now() - killedAt;
    const hb = await vm.waitFor('an early heartbeat with web down', async () =>
      env.director.heartbeats.slice(beats).find((h) => h.containers.some((c) => c.name === 'web' && c.state === 'exited')), 5_000);
    const reportedMs = Date.parse(hb.timestamp) - killedAt;
    process.stderr.write(`agent-dns e2e: withdrawn after ${withdrawnMs} ms, reported after ${reportedMs} ms\n`);
    expect(withdrawnMs).toBeLessThan(1000);
    expect(reportedMs).toBeLessThan(1000);
    // The other names of the instance stay, the director's set is unchanged.
    expect((await askDns(vm.ip, 53, `probe.g.${deployment}.bosun`)).answers).toHaveLength(1);
    expect((await vm.agent.getDns()).version).toBe(2);
  }, 30_000);

  it('after an agent restart, answers from the record set kept on disk', async () => {
    const agentPid = (await vm.inVm(['pgrep', '-x', 'node'])).trim();
    await vm.inVm(['kill', '-9', agentPid]);
    await vm.waitFor('the agent to be back', async () => (await vm.inVm(['pgrep', '-x', 'node'])).trim() !== agentPid && (await vm.agent.ping()) === 'pong', 30_000);
    expect((await vm.agent.getDns()).version).toBe(2);
    const a = await vm.waitFor('DNS answers again', async () => (await askDns(vm.ip, 53, `redis.db.${deployment}.bosun`, 'A', { timeoutMs: 500 })).answers, 10_000);
    expect(a).toMatchObject([{ address: '10.9.0.1' }]);
  }, 60_000);
});
