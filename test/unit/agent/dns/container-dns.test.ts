import { afterEach, describe, expect, it } from 'vitest';
import { createOptions } from '../../../../src/agent/containers/create-options.js';
import type { EngineCreateBody } from '../../../../src/agent/docker-engine/docker-engine.js';
import { HeartbeatLoop } from '../../../../src/agent/heartbeat.js';
import type { Heartbeat } from '../../../../src/common/contracts/agent-protocol.js';
import { silentLogger } from '../../../../src/common/logger.js';
import { sleep } from '../../../../src/common/waiting.js';
import { buildContainer, buildSpec } from '../../../helpers/instance-spec-builder.js';
import { applied, supervise, type Kit } from '../supervision-kit.js';

describe("containers' resolver: the VM's DNS server", () => {
  const spec = buildSpec([{ name: 'web' }], 'prod');
  const web = buildContainer({ name: 'web' });

  it('points a container without `dns` at the VM, with the link and deployment search domains', () => {
    const hc = createOptions(spec, web, '/store', '10.244.0.5').HostConfig;
    expect(hc.Dns).toEqual(['10.244.0.5']);
    expect(hc.DnsSearch).toEqual(['web.g.prod.links.bosun', 'prod.bosun']);
    expect(hc.DnsOptions).toEqual(['ndots:2']);
    const ndots = { ...web, create: { ...web.create, HostConfig: { DnsOptions: ['ndots:5', 'timeout:1'] } } };
    expect(createOptions(spec, ndots, '/store', '10.244.0.5').HostConfig.DnsOptions).toEqual(['ndots:5', 'timeout:1']);
  });

  it("keeps the manifest's dns, adds to its dns_search, and leaves a shared network namespace alone", () => {
    const own = { ...web, create: { ...web.create, HostConfig: { Dns: ['1.1.1.1'] } } };
    expect(createOptions(spec, own, '/store', '10.244.0.5').HostConfig).toMatchObject({ Dns: ['1.1.1.1'] });
    expect(createOptions(spec, own, '/store', '10.244.0.5').HostConfig.DnsSearch).toBeUndefined();
    const search = { ...web, create: { ...web.create, HostConfig: { DnsSearch: ['corp.example'] } } };
    expect(createOptions(spec, search, '/store', '10.244.0.5').HostConfig.DnsSearch).toEqual(['corp.example', 'web.g.prod.links.bosun', 'prod.bosun']);
    const shared = { ...web, create: { ...web.create, HostConfig: { NetworkMode: 'container:db' } } };
    expect(createOptions(spec, shared, '/store', '10.244.0.5').HostConfig.Dns).toBeUndefined();
    // No DNS server on the VM: Docker's default resolver.
    expect(createOptions(spec, web, '/store', null).HostConfig.Dns).toBeUndefined();
  });
});

describe('the agent sees its own containers go down at once', () => {
  let kit: Kit;
  afterEach(() => kit?.close());

  it('creates containers with the DNS server, reports each state or health change, and withdraws what is down', async () => {
    // What DNS would answer for db at each change the manager reports.
    const dbUp: Array<boolean | undefined> = [];
    kit = supervise({ manager: { dnsServer: () => '10.244.0.5', onChange: () => dbUp.push(kit?.manager.localDnsView()?.containers.get('db')) } });
    const bodies: EngineCreateBody[] = [];
    const create = kit.engine.createContainer.bind(kit.engine);
    kit.engine.createContainer = (b) => (bodies.push(b), create(b));
    const hc = { test: ['CMD', 'true'], intervalMs: 1000 };
    kit.engine.behave('db', { healthyAfterMs: 10 });
    await applied(kit, buildSpec([{ name: 'db', healthcheck: hc }, { name: 'web' }], 'prod'));
    await kit.waitFor('db', (c) => c.state === 'running', 'db to be healthy');
    expect(bodies.map((b) => b.HostConfig.Dns)).toEqual([['10.244.0.5'], ['10.244.0.5']]);
    expect(kit.manager.localDnsView()).toMatchObject({ deployment: 'prod', group: 'g', index: 0, running: true, containers: new Map([['db', true], ['web', true]]) });

    dbUp.length = 0;
    kit.engine.setHealth('db', 'unhealthy');
    await kit.waitFor('db', (c) => c.state === 'running' && c.restarts === 1, 'db to run again');
    // Withdrawn the moment the unhealthy event arrived (the first change), back once healthy again.
    expect(dbUp[0]).toBe(false);
    expect(dbUp.at(-1)).toBe(true);

    await kit.manager.stopAll();
    expect(kit.manager.localDnsView()).toMatchObject({ running: false, containers: new Map([['db', false], ['web', false]]) });
  });
});

describe('heartbeats on a change', () => {
  it('sends one early heartbeat for a burst of changes, a few tens of ms after the first', async () => {
    const sent: number[] = [];
    const loop = new HeartbeatLoop(60_000, () => Promise.resolve({} as Heartbeat), () => (sent.push(Date.now()), Promise.resolve()), silentLogger);
    loop.start();
    await sleep(20);
    sent.length = 0;
    const t0 = Date.now();
    for (let i = 0; i < 5; i++) loop.soon();
    await sleep(100);
    loop.stop();
    expect(sent).toHaveLength(1);
    expect((sent[0] ?? 0) - t0).toBeLessThan(80);
  });
});
