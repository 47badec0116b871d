import { describe, expect, it } from 'vitest';
import type { ContainerSpec } from '../../../../src/common/contracts/instance-spec.js';
import type { DnsRecordSet } from '../../../../src/common/contracts/dns-records.js';
import { buildRecords, portsOf, type DnsSourceInstance } from '../../../../src/director/dns/record-builder.js';

function container(name: string, ports: Record<string, string[]> = {}): ContainerSpec {
  const PortBindings = Object.fromEntries(Object.entries(ports).map(([k, hs]) => [k, hs.map((HostPort) => ({ HostIp: '', HostPort }))]));
  return { name, image: 'x', dependsOn: [], mounts: [], create: { HostConfig: { PortBindings } }, specHash: name };
}

function instance(over: Partial<DnsSourceInstance> = {}): DnsSourceInstance {
  return {
    id: 'i-0',
    deployment: 'prod',
    group: 'db',
    index: 0,
    desired: 'started',
    vmCid: 'vm-0',
    ip: '10.244.0.5',
    spec: { containers: [container('redis', { '6379/tcp': ['6379'] })] },
    containerStates: new Map([['redis', 'running']]),
    ...over,
  };
}

describe('record builder', () => {
  it('answers a running container with its host ports', () => {
    const { instances } = buildRecords({ instances: [instance()], aliases: [] });
    expect(instances).toEqual([
      {
        deployment: 'prod',
        group: 'db',
        index: 0,
        instanceId: 'i-0',
        address: '10.244.0.5',
        running: true,
        containers: [{ name: 'redis', healthy: true, ports: [{ port: 6379, protocol: 'tcp' }] }],
      },
    ]);
  });

  it('counts a container healthy only while its agent reports it running (healthy where it has a health check)', () => {
    for (const state of ['unhealthy', 'starting', 'restarting', 'stopped', 'exited', 'failed', 'missing']) {
      const { instances } = buildRecords({ instances: [instance({ containerStates: new Map([['redis', state]]) })], aliases: [] });
      expect(instances[0]?.containers[0]?.healthy, state).toBe(false);
      expect(instances[0]?.running, state).toBe(true);
    }
    // A container the agent does not report at all is not healthy either.
    const { instances } = buildRecords({ instances: [instance({ containerStates: new Map() })], aliases: [] });
    expect(instances[0]?.containers[0]?.healthy).toBe(false);
  });

  it('marks a stopped instance and one without a VM as not running, with no healthy container', () => {
    const stopped = buildRecords({ instances: [instance({ desired: 'stopped' })], aliases: [] }).instances[0];
    expect(stopped).toMatchObject({ running: false, address: '10.244.0.5', containers: [{ healthy: false }] });
    const noVm = buildRecords({ instances: [instance({ vmCid: null, ip: '10.244.0.5' })], aliases: [] }).instances[0];
    expect(noVm).toMatchObject({ running: false, address: null, containers: [{ healthy: false }] });
    const notApplied = buildRecords({ instances: [instance({ spec: null })], aliases: [] }).instances[0];
    expect(notApplied).toMatchObject({ running: true, containers: [] });
  });

  it('keeps the last set\'s health for an instance not heard from since a restart, but only on the same VM at the same address', () => {
    const previous: DnsRecordSet = {
      version: 4,
      aliases: [],
      instances: [{ deployment: 'prod', group: 'db', index: 0, instanceId: 'i-0', address: '10.244.0.5', running: true, containers: [{ name: 'redis', healthy: true, ports: [] }] }],
    };
    const unheard = instance();
    delete unheard.containerStates;
    expect(buildRecords({ instances: [unheard], aliases: [], previous }).instances[0]?.containers[0]?.healthy).toBe(true);
    const moved = { ...unheard, ip: '10.244.0.9' };
    expect(buildRecords({ instances: [moved], aliases: [], previous }).instances[0]?.containers[0]?.healthy).toBe(false);
    expect(buildRecords({ instances: [unheard], aliases: [] }).instances[0]?.containers[0]?.healthy).toBe(false);
    // A new VM with the same address (a resurrection): its containers have yet to start.
    expect(buildRecords({ instances: [unheard], aliases: [], previous, previousVmCids: new Map([['i-0', 'vm-old']]) }).instances[0]?.containers[0]?.healthy).toBe(false);
    expect(buildRecords({ instances: [unheard], aliases: [], previous, previousVmCids: new Map([['i-0', 'vm-0']]) }).instances[0]?.containers[0]?.healthy).toBe(true);
  });

  it('sorts instances and aliases, lower-cases alias names and keeps the first of two equal alias names', () => {
    const { instances, aliases } = buildRecords({
      instances: [instance({ id: 'b', group: 'web', index: 1 }), instance({ id: 'a', group: 'web', index: 0 }), instance({ id: 'c', deployment: 'alpha' })],
      aliases: [
        { name: 'Db.Internal.', target: 'redis.db.prod.bosun' },
        { name: 'db.internal', target: 'web.prod.bosun' },
        { name: 'cache.web.app.prod.links.bosun', target: 'redis.db.prod.bosun' },
      ],
    });
    expect(instances.map((i) => `${i.deployment}/${i.group}/${i.index}`)).toEqual(['alpha/db/0', 'prod/web/0', 'prod/web/1']);
    expect(aliases).toEqual([
      { name: 'cache.web.app.prod.links.bosun', target: 'redis.db.prod.bosun' },
      { name: 'db.internal', target: 'redis.db.prod.bosun' },
    ]);
  });

  it('takes host ports from bind_ports: tcp and udp, each once, not ports Docker picks', () => {
    expect(
      portsOf({
        '53/udp': [{ HostPort: '5353' }],
        '80/tcp': [{ HostPort: '8080' }, { HostIp: '127.0.0.1', HostPort: '8080' }],
        '9000/tcp': [{ HostPort: '' }],
        '7/sctp': [{ HostPort: '7' }],
      }),
    ).toEqual([
      { port: 5353, protocol: 'udp' },
      { port: 8080, protocol: 'tcp' },
    ]);
  });
});
