/**
 * Clouds whose attach_disk/detach_disk recreate the VM (bosh-docker-cpi: the agent restarts with
 * its spec, containers and mounts lost) and clouds that hand out directory disks: the director
 * waits for the agent again after every attach/detach, mounts again what the agent lost,
 * re-applies the spec when the agent came back without it, and resizes a directory disk by copy.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { FakeAgent } from '../../../src/cloud/fake/fake-agent.js';
import type { TestDirector, TestManifest } from '../../helpers/director-fixtures.js';
import { createTestDirector, deployAndWait } from '../../helpers/director-fixtures.js';

const demo = (disk: number): TestManifest => ({ name: 'demo', groups: [{ name: 'db', instances: 1, disk, containers: [{ name: 'redis', image: 'redis:7' }] }] });

async function only(t: TestDirector): Promise<{ agent: FakeAgent; vmCid: string; diskCid: string }> {
  const [i] = await t.director.listInstances('demo');
  const agent = t.cloud.agentOf(i?.agentId ?? '');
  if (!i?.vmCid || !agent || !i.diskCids[0]) throw new Error('no instance');
  return { agent, vmCid: i.vmCid, diskCid: i.diskCids[0] };
}

const actions = (agent: FakeAgent, from = 0): string[] => agent.calls.slice(from).map((c) => c.action);

describe('a cloud that recreates the VM on attach_disk and detach_disk', () => {
  let t: TestDirector;
  afterEach(async () => {
    await t.close();
  });

  it('deploy waits for the agent after the attach before mount_disk, and applies the spec on the recreated VM', async () => {
    t = await createTestDirector({ cloud: { recreateVmOnAttachMs: 300 } });
    const task = await deployAndWait(t.director, demo(256));
    expect(task.error).toBeNull();
    const { agent, diskCid } = await only(t);
    expect(agent.recreations).toBe(1);
    expect(agent.appliedSpec).not.toBeNull();
    expect((await agent.getState()).disks).toEqual([diskCid]);
    // Pings refused while the VM booted, then get_state, mount and apply: mount_disk came only once the agent answered.
    const a = actions(agent);
    const mount = a.indexOf('mountDisk');
    expect(a.slice(0, mount).filter((x) => x === 'ping').length).toBeGreaterThan(2);
    expect(a[mount - 1]).toBe('getState');
    expect(a.indexOf('apply')).toBeGreaterThan(mount);
  });

  it('recreate keeps the disk and its data: attached, waited for, mounted, spec applied', async () => {
    t = await createTestDirector({ cloud: { recreateVmOnAttachMs: 200 } });
    expect((await deployAndWait(t.director, demo(256))).error).toBeNull();
    const before = await only(t);
    before.agent.storeData().set('redis/dump.rdb', 'kept');
    const task = await t.director.runJob('demo', { action: 'recreate', group: 'db', index: 0 }, 'admin');
    expect((await t.director.tasks.wait(task.id)).error).toBeNull();
    const after = await only(t);
    expect(after.vmCid).not.toBe(before.vmCid);
    expect(after.agent.recreations).toBe(1);
    expect(after.agent.storeData().get('redis/dump.rdb')).toBe('kept');
    expect(after.agent.appliedSpec?.specHash).toBe(before.agent.appliedSpec?.specHash);
    expect((await after.agent.getState()).jobState).toBe('running');
  });

  it('a resize by copy mounts the old disk again and re-applies the spec after the new disk\'s attach recreated the VM, and after the old disk\'s detach', async () => {
    t = await createTestDirector({ cloud: { recreateVmOnAttachMs: 100, supportsResizeDisk: false } });
    expect((await deployAndWait(t.director, demo(256))).error).toBeNull();
    const before = await only(t);
    before.agent.storeData().set('redis/appendonly.aof', 'SET k v');
    const from = before.agent.calls.length;
    const task = await deployAndWait(t.director, demo(512));
    expect(task.error).toBeNull();
    const after = await only(t);
    expect(after.diskCid).not.toBe(before.diskCid);
    expect(after.agent.storeData().get('redis/appendonly.aof')).toBe('SET k v');
    // Attach of the new disk and detach of the old one each recreated the VM.
    expect(after.agent.recreations).toBe(3);
    expect(actions(after.agent, from).filter((x) => x === 'apply').length).toBeGreaterThanOrEqual(2);
    const state = await after.agent.getState();
    expect(state.specHash).not.toBeNull();
    expect(state.disks).toEqual([after.diskCid]);
    expect(state.jobState).toBe('running');
  });
});

describe('a cloud that hands out directory disks', () => {
  let t: TestDirector;
  afterEach(async () => {
    await t.close();
  });

  it('resizes a directory disk by copy, never in place, although the cloud says it can resize disks', async () => {
    t = await createTestDirector({ cloud: { directoryDisks: true, supportsResizeDisk: true } });
    expect((await deployAndWait(t.director, demo(256))).error).toBeNull();
    const before = await only(t);
    before.agent.storeData().set('redis/appendonly.aof', 'SET k v');
    const from = t.cloud.calls.length;
    const task = await deployAndWait(t.director, demo(512));
    expect(task.error).toBeNull();
    const methods = t.cloud.calls.slice(from).map((c) => c.method);
    expect(methods).not.toContain('resizeDisk');
    expect(methods).toContain('createDisk');
    const after = await only(t);
    expect(after.diskCid).not.toBe(before.diskCid);
    expect(after.agent.storeData().get('redis/appendonly.aof')).toBe('SET k v');
  });
});
