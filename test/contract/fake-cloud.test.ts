import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { Heartbeat } from '../../src/common/contracts/agent-protocol.js';
import { CloudError, VmCreationFailedError } from '../../src/cloud/cloud.js';
import { FakeCloud } from '../../src/cloud/fake/fake-cloud.js';
import { UnavailableError } from '../../src/common/errors.js';
import type { InstanceSpec } from '../../src/common/contracts/instance-spec.js';
import { describeCloudContract, vmRequest } from './cloud-contract.js';
import { DEFAULT_DOCKER_SPEC } from '../../src/agent/docker-daemon/dockerd-args.js';

const contractCloud = new FakeCloud();
afterAll(() => contractCloud.shutdown());
describeCloudContract('fake', () => contractCloud);

function spec(containers: string[]): InstanceSpec {
  return {
    deployment: 'demo',
    group: 'web',
    index: 0,
    instanceId: 'inst-1',
    persistentDiskMiB: 16,
    docker: { ...DEFAULT_DOCKER_SPEC },
    containers: containers.map((name) => ({
      name,
      image: `${name}:1`,
      dependsOn: [],
      mounts: [],
      create: { HostConfig: {} },
      specHash: `hash-${name}-0123456789`,
    })),
    specHash: 'spec-hash',
  } as InstanceSpec;
}

describe('fake cloud specifics', () => {
  let cloud: FakeCloud;
  afterEach(() => cloud?.shutdown());

  it('records every call and injects failures: once, n times, always', async () => {
    cloud = new FakeCloud();
    cloud.fail('attachDisk');
    const { vmCid } = await cloud.createVm(vmRequest('a1'));
    const disk = await cloud.createDisk(10, {});
    await expect(cloud.attachDisk(vmCid, disk)).rejects.toBeInstanceOf(CloudError);
    await cloud.attachDisk(vmCid, disk);
    expect(cloud.callsOf('attachDisk')).toEqual([
      [vmCid, disk],
      [vmCid, disk],
    ]);
    cloud.fail('createVm', {
      always: true,
      error: new VmCreationFailedError('no capacity', { okToRetry: true }),
    });
    for (let i = 0; i < 3; i++)
      await expect(cloud.createVm(vmRequest('a2'))).rejects.toBeInstanceOf(VmCreationFailedError);
    cloud.clearFailures('createVm');
    await cloud.createVm(vmRequest('a2'));
    expect(cloud.calls.map((c) => c.method)).toEqual([
      'createVm',
      'createDisk',
      'attachDisk',
      'attachDisk',
      'createVm',
      'createVm',
      'createVm',
      'createVm',
    ]);
  });

  it('pauses and resumes a method', async () => {
    cloud = new FakeCloud();
    cloud.pause('createVm');
    let done = false;
    const pending = cloud.createVm(vmRequest('p1')).then((r) => ((done = true), r));
    await new Promise((r) => setTimeout(r, 20));
    expect(done).toBe(false);
    cloud.resume('createVm');
    const { vmCid } = await pending;
    expect(await cloud.hasVm(vmCid)).toBe(true);
  });

  it('fake agents apply, stop, start, report failing containers and heartbeat', async () => {
    const beats: Heartbeat[] = [];
    cloud = new FakeCloud({
      onHeartbeat: (hb) => beats.push(hb),
      heartbeatIntervalMs: 10,
      failingContainers: ['broken'],
    });
    const { vmCid } = await cloud.createVm(vmRequest('agent-1'));
    const agent = cloud.agentConnector.connect({ agentId: 'agent-1', vmCid, ip: null });
    expect(await agent.ping()).toBe('pong');
    await agent.apply(spec(['redis', 'web']));
    let state = await agent.getState();
    expect(state.jobState).toBe('running');
    expect(state.containers.map((c) => [c.name, c.state])).toEqual([
      ['redis', 'running'],
      ['web', 'running'],
    ]);
    await agent.stop();
    state = await agent.getState();
    expect(state.jobState).toBe('stopped');
    expect(state.containers.every((c) => c.state === 'stopped')).toBe(true);
    await agent.start();
    expect((await agent.getState()).jobState).toBe('running');
    await agent.apply(spec(['redis', 'broken']));
    expect((await agent.getState()).jobState).toBe('failing');
    expect((await agent.runCommand('echo hi')).stdout).toBe('echo hi\n');
    expect(await agent.fetchLogs('redis')).toContain('redis');
    await new Promise((r) => setTimeout(r, 50));
    expect(beats.length).toBeGreaterThanOrEqual(2);
    expect(beats.at(-1)).toMatchObject({
      agentId: 'agent-1',
      vmCid,
      deployment: 'demo',
      jobState: 'failing',
    });
  });

  it('keeps data on the disk when it moves to a new VM', async () => {
    cloud = new FakeCloud();
    const disk = await cloud.createDisk(10, {});
    const first = await cloud.createVm(vmRequest('old', [disk]));
    const a1 = cloud.agentConnector.connect({ agentId: 'old', vmCid: first.vmCid, ip: null });
    await a1.mountDisk({ diskCid: disk, hint: { path: 'x' } });
    expect(await a1.listDisk()).toEqual([disk]);
    cloud.agentOfVm(first.vmCid)?.storeData().set('redis/dump.rdb', 'v1');
    cloud.loseVm(first.vmCid);
    expect(await cloud.hasVm(first.vmCid)).toBe(false);
    await expect(a1.ping()).rejects.toBeInstanceOf(UnavailableError);
    // fencing: the lost VM still holds the disk until it is deleted
    const second = await cloud.createVm(vmRequest('new'));
    await expect(cloud.attachDisk(second.vmCid, disk)).rejects.toThrow(/still attached/);
    await cloud.deleteVm(first.vmCid);
    await cloud.attachDisk(second.vmCid, disk);
    const a2 = cloud.agentConnector.connect({ agentId: 'new', vmCid: second.vmCid, ip: null });
    await a2.mountDisk({ diskCid: disk, hint: { path: 'x' } });
    expect(cloud.agentOfVm(second.vmCid)?.storeData().get('redis/dump.rdb')).toBe('v1');
  });

  it('an unresponsive agent stops heartbeating and its calls reject after the timeout', async () => {
    const beats: Heartbeat[] = [];
    cloud = new FakeCloud({
      onHeartbeat: (hb) => beats.push(hb),
      heartbeatIntervalMs: 5,
      unresponsiveTimeoutMs: 30,
    });
    const { vmCid } = await cloud.createVm(vmRequest('slow'));
    const agent = cloud.agentConnector.connect({ agentId: 'slow', vmCid, ip: null });
    cloud.makeAgentUnresponsive('slow', true);
    const count = beats.length;
    const started = Date.now();
    await expect(agent.ping()).rejects.toBeInstanceOf(UnavailableError);
    expect(Date.now() - started).toBeGreaterThanOrEqual(25);
    expect(beats.length).toBe(count);
    expect(await cloud.hasVm(vmCid)).toBe(true);
    cloud.makeAgentUnresponsive('slow', false);
    expect(await agent.ping()).toBe('pong');
  });

  it('handles a thousand VMs quickly', async () => {
    cloud = new FakeCloud({ heartbeatIntervalMs: 1000 });
    const started = Date.now();
    const vms = await Promise.all(
      Array.from({ length: 1000 }, (_, i) => cloud.createVm(vmRequest(`agent-${i}`))),
    );
    expect(new Set(vms.map((v) => v.networks.default?.ip)).size).toBe(1000);
    expect(cloud.vmCount).toBe(1000);
    await Promise.all(vms.map((v) => cloud.deleteVm(v.vmCid)));
    expect(cloud.vmCount).toBe(0);
    expect(Date.now() - started).toBeLessThan(2000);
  });
});
