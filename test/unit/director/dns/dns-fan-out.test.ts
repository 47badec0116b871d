/**
 * The director's record-set pushes on the fake cloud: every fake agent answers DNS from what it
 * was pushed (the agent's own resolver), so "withdrawn everywhere" is what each agent answers.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeCloud } from '../../../../src/cloud/fake/index.js';
import type { FakeAgent } from '../../../../src/cloud/fake/fake-agent.js';
import type { Heartbeat } from '../../../../src/common/contracts/agent-protocol.js';
import { pollUntil } from '../../../../src/common/waiting.js';
import type { Director } from '../../../../src/director/director.js';
import { createTestDirector, deployAndWait, type TestManifest } from '../../../helpers/director-fixtures.js';

const NAME = 'nginx.web.fleet.bosun';

function fleet(instances: number): TestManifest {
  return { name: 'fleet', update: { canaries: 1, maxInFlight: instances }, groups: [{ name: 'web', instances, containers: [{ name: 'nginx', image: 'nginx:1' }] }] };
}

interface Rig {
  director: Director;
  cloud: FakeCloud;
  agents(): Promise<Array<{ index: number; ip: string; agent: FakeAgent }>>;
  close(closeCloud?: boolean): Promise<void>;
}

const rigs: Rig[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const r of rigs.splice(0)) await r.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** Where each fake cloud's heartbeats go: the director of its latest rig. */
const heartbeatTargets = new WeakMap<FakeCloud, { director?: Director }>();

async function rig(options: { cloud?: FakeCloud; databasePath?: string } = {}): Promise<Rig> {
  const target: { director?: Director } = (options.cloud && heartbeatTargets.get(options.cloud)) || {};
  const cloud = options.cloud ?? new FakeCloud({ unresponsiveTimeoutMs: 100, heartbeatIntervalMs: 60_000, onHeartbeat: (hb) => void target.director?.recordHeartbeat(hb).catch(() => undefined) });
  const t = await createTestDirector({ cloudInstance: cloud, ...(options.databasePath === undefined ? {} : { databasePath: options.databasePath }) });
  target.director = t.director;
  heartbeatTargets.set(cloud, target);
  let closed = false;
  const r: Rig = {
    director: t.director,
    cloud,
    agents: async () =>
      (await t.director.store.instances.listByDeployment('fleet')).flatMap((i) => {
        const agent = i.vmCid === null ? undefined : cloud.agentOfVm(i.vmCid);
        return agent === undefined || i.ip === null ? [] : [{ index: i.index, ip: i.ip, agent }];
      }),
    close: async (closeCloud = true) => {
      if (closed) return;
      closed = true;
      await t.director.close();
      if (closeCloud) cloud.shutdown();
    },
  };
  rigs.push(r);
  return r;
}

const addresses = (agent: FakeAgent, name = NAME): string[] =>
  (agent.resolveDns(name)?.answers ?? []).flatMap((a) => (a.type === 'A' ? [a.address] : [])).sort();

/** Deploys, lets every agent report its containers once, and waits until every agent has the set. */
async function deployFleet(r: Rig, instances: number): Promise<Array<{ index: number; ip: string; agent: FakeAgent }>> {
  expect((await deployAndWait(r.director, fleet(instances))).state).toBe('done');
  const agents = await r.agents();
  for (const a of agents) a.agent.beat();
  await pollUntil(async () => (agents.every((a) => addresses(a.agent).length === instances) ? true : undefined), { timeoutMs: 5_000, intervalMs: 10, what: 'every agent answers every instance' });
  return agents;
}

/** How long until every agent's answers satisfy `ok`, in ms; fails after `timeoutMs`. */
async function msUntilEverywhere(agents: Array<{ agent: FakeAgent }>, ok: (agent: FakeAgent) => boolean, timeoutMs = 1_000): Promise<number> {
  const t0 = performance.now();
  await pollUntil(async () => (agents.every((a) => ok(a.agent)) ? true : undefined), { timeoutMs, intervalMs: 5, what: 'every agent answers the change' });
  return performance.now() - t0;
}

describe('DNS record pushes on the fake cloud', () => {
  it('50 VMs: a stopped instance leaves every agent\'s answers within 1 s, and comes back on start', async () => {
    const r = await rig();
    const agents = await deployFleet(r, 50);
    const seven = agents.find((a) => a.index === 7);
    if (seven === undefined) throw new Error('no web/7');
    const before = r.director.dns.recordSet.version;

    const t0 = performance.now();
    const stop = await r.director.runJob('fleet', { action: 'stop', group: 'web', index: 7 }, 'admin');
    await msUntilEverywhere(agents, (a) => !addresses(a).includes(seven.ip) && addresses(a, `7.${NAME}`).length === 0);
    expect(performance.now() - t0).toBeLessThan(1_000);
    expect((await r.director.tasks.wait(stop.id)).state).toBe('done');
    expect(r.director.dns.recordSet.version).toBeGreaterThan(before);
    // Every other instance is still answered everywhere.
    for (const a of agents) expect(addresses(a.agent)).toHaveLength(49);
    // What `bosun dns` and `bosun instances` show.
    await r.director.dns.flush();
    const view = await r.director.getDns('fleet');
    expect(view.records.find((x) => x.name === NAME)?.answers).toHaveLength(49);
    expect(view.records.find((x) => x.name === `7.${NAME}`)?.answers).toEqual([]);
    expect(view.instances.find((i) => i.index === 7)).toMatchObject({ running: false, address: seven.ip, containers: [{ name: 'nginx', healthy: false, names: [`7.${NAME}`, NAME] }] });
    expect(view.agents).toEqual({ current: 50, total: 50 });
    expect((await r.director.listInstances('fleet')).find((i) => i.index === 7)?.dnsNames).toEqual([`7.${NAME}`]);

    const start = await r.director.runJob('fleet', { action: 'start', group: 'web', index: 7 }, 'admin');
    expect((await r.director.tasks.wait(start.id)).state).toBe('done');
    seven.agent.beat();
    await msUntilEverywhere(agents, (a) => addresses(a).includes(seven.ip));
  });

  it('a container its agent reports unhealthy is withdrawn from every agent within 1 s, and answered again when it is healthy', async () => {
    const r = await rig();
    const agents = await deployFleet(r, 50);
    const three = agents.find((a) => a.index === 3);
    if (three === undefined) throw new Error('no web/3');
    const report = async (state: string): Promise<void> => {
      const hb: Heartbeat = three.agent.heartbeat();
      await r.director.recordHeartbeat({ ...hb, containers: hb.containers.map((c) => ({ ...c, state: state as Heartbeat['containers'][number]['state'] })) });
    };
    // (web/3's own agent goes by what it sees of its containers itself, which the fake keeps running.)
    const others = agents.filter((a) => a !== three);
    await report('unhealthy');
    expect(await msUntilEverywhere(others, (a) => !addresses(a).includes(three.ip))).toBeLessThan(1_000);
    expect(r.director.dns.recordSet.instances.find((i) => i.index === 3)?.containers[0]?.healthy).toBe(false);
    await report('running');
    expect(await msUntilEverywhere(others, (a) => addresses(a).includes(three.ip))).toBeLessThan(1_000);
  });

  it('an instance whose VM the cloud lost is withdrawn at the health monitor\'s next analysis, before any resurrection', async () => {
    const r = await rig();
    const agents = await deployFleet(r, 5);
    await r.director.setResurrection(false, 'fleet', 'admin');
    const lost = agents.find((a) => a.index === 2);
    if (lost === undefined) throw new Error('no web/2');
    r.cloud.loseVm(lost.agent.vmCid);
    const others = agents.filter((a) => a !== lost);
    await r.director.health.monitor.analyze();
    expect(await msUntilEverywhere(others, (a) => !addresses(a).includes(lost.ip))).toBeLessThan(1_000);
    expect(r.director.dns.recordSet.instances.find((i) => i.index === 2)?.running).toBe(false);
  });

  it('pushes the set to each agent a few times per deploy, not once per change; one change later is a one-instance delta', async () => {
    const r = await rig();
    const agents = await deployFleet(r, 20);
    const pushes = (a: FakeAgent): Array<{ kind: string; upsert?: unknown[]; remove?: unknown[] }> =>
      a.calls.filter((c) => c.action === 'updateDns').map((c) => c.args[0] as { kind: string });
    // 20 instances make ~80 store changes and 20 health changes; each agent sees far fewer pushes.
    const most = Math.max(...agents.map((a) => pushes(a.agent).length));
    expect(most).toBeLessThan(25);
    expect(r.director.dns.recordSet.version).toBeLessThan(80);
    for (const a of agents) expect(pushes(a.agent)[0]?.kind).toBe('full');

    const counts = agents.map((a) => pushes(a.agent).length);
    const stop = await r.director.runJob('fleet', { action: 'stop', group: 'web', index: 4 }, 'admin');
    await r.director.tasks.wait(stop.id);
    await r.director.dns.flush();
    agents.forEach((a, k) => {
      const after = pushes(a.agent).slice(counts[k]);
      expect(after.length).toBeGreaterThan(0);
      for (const p of after) expect(p).toMatchObject({ kind: 'delta', remove: [] });
      expect(after.flatMap((p) => p.upsert ?? [])).toEqual([expect.objectContaining({ group: 'web', index: 4, running: false })]);
    });
  });

  it('an agent that does not answer holds up no other, and gets the current set once it is back', async () => {
    const r = await rig();
    const agents = await deployFleet(r, 10);
    const [slow, , gone] = agents;
    if (slow === undefined || gone === undefined) throw new Error('too few agents');
    r.cloud.makeAgentUnresponsive(slow.agent.agentId, true);
    const others = agents.filter((a) => a !== slow);
    const stop = await r.director.runJob('fleet', { action: 'stop', group: 'web', index: gone.index }, 'admin');
    expect(await msUntilEverywhere(others, (a) => !addresses(a).includes(gone.ip))).toBeLessThan(1_000);
    await r.director.tasks.wait(stop.id);
    expect(addresses(slow.agent)).toContain(gone.ip);

    r.cloud.makeAgentUnresponsive(slow.agent.agentId, false);
    slow.agent.beat(); // its first heartbeat: the push waiting for it goes at once
    await msUntilEverywhere([slow], (a) => !addresses(a).includes(gone.ip), 2_000);
    expect((await slow.agent.getDns()).version).toBe(r.director.dns.recordSet.version);
  });

  it('keeps versions growing across a director restart, and passes an agent that has a newer version', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bosun-dns-'));
    dirs.push(dir);
    const databasePath = join(dir, 'director.db');
    const first = await rig({ databasePath });
    const agents = await deployFleet(first, 3);
    const v1 = first.director.dns.recordSet.version;
    await first.close(false);

    const second = await rig({ cloud: first.cloud, databasePath });
    expect(second.director.dns.recordSet.version).toBe(v1);
    for (const a of agents) a.agent.beat();
    const stop = await second.director.runJob('fleet', { action: 'stop', group: 'web', index: 1 }, 'admin');
    await second.director.tasks.wait(stop.id);
    const gone = agents.find((a) => a.index === 1)?.ip ?? '';
    await msUntilEverywhere(agents, (a) => !addresses(a).includes(gone));
    expect(second.director.dns.recordSet.version).toBeGreaterThan(v1);

    // An agent ahead of the director (say, a restored database): it refuses the delta, ignores
    // the older whole set, and the director's next version passes the agent's.
    const ahead = agents[0]?.agent;
    if (ahead === undefined) throw new Error('no agent');
    const set = (await ahead.getDns()).set;
    await ahead.updateDns({ kind: 'full', set: { ...set, version: set.version + 100 } });
    const start = await second.director.runJob('fleet', { action: 'start', group: 'web', index: 1 }, 'admin');
    await second.director.tasks.wait(start.id);
    for (const a of agents) a.agent.beat();
    await msUntilEverywhere(agents, (a) => addresses(a).includes(gone), 3_000);
    expect(second.director.dns.recordSet.version).toBeGreaterThan(set.version + 100);
    expect((await ahead.getDns()).version).toBe(second.director.dns.recordSet.version);
  });
});
