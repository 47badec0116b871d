import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Store } from '../../../src/store/store.js';

describe('store repositories (SQLite :memory:)', () => {
  let store: Store;
  beforeEach(async () => {
    store = await Store.create({ kind: 'sqlite', path: ':memory:' });
  });
  afterEach(async () => {
    await store.close();
  });

  it('keeps the pending manifest apart from the last successful one', async () => {
    await store.deployments.setPending('d', 'v1');
    expect(await store.deployments.get('d')).toMatchObject({ manifest: null, pendingManifest: 'v1', lastDeployedAt: null, resurrection: null });
    await store.deployments.markDeployed('d', 'v1');
    await store.deployments.setPending('d', 'v2');
    expect(await store.deployments.get('d')).toMatchObject({ manifest: 'v1', pendingManifest: 'v2' });
    await store.deployments.setResurrection('d', false);
    expect((await store.deployments.get('d'))?.resurrection).toBe(false);
    await store.deployments.delete('d');
    expect(await store.deployments.list()).toEqual([]);
  });

  it('stores instances with their VM, applied spec, desired state and heartbeat', async () => {
    await store.instances.create({ id: 'i1', deployment: 'd', group: 'g', index: 0 });
    await expect(store.instances.create({ id: 'i2', deployment: 'd', group: 'g', index: 0 })).rejects.toThrow();
    await store.instances.setVm('i1', { vmCid: 'vm1', agentId: 'a1', ip: '10.0.0.2' });
    await store.instances.setApplied('i1', '{}', 'hash');
    await store.instances.setDesired('i1', 'stopped');
    await store.instances.recordHeartbeat('i1', '2026-01-01T00:00:00.000Z', 'running');
    expect(await store.instances.findByAgentId('a1')).toMatchObject({
      id: 'i1',
      group: 'g',
      index: 0,
      vmCid: 'vm1',
      specHash: 'hash',
      desired: 'stopped',
      jobState: 'running',
    });
    expect(await store.instances.findBySlot('d', 'g', 0)).toMatchObject({ id: 'i1' });
    // The same VM again keeps its job state; a new VM has none until its agent reports.
    await store.instances.setVm('i1', { vmCid: 'vm1', agentId: 'a1', ip: '10.0.0.7' });
    expect((await store.instances.get('i1'))?.jobState).toBe('running');
    await store.instances.setVm('i1', { vmCid: 'vm2', agentId: 'a2', ip: null });
    expect(await store.instances.get('i1')).toMatchObject({ vmCid: 'vm2', jobState: null });
    await store.instances.setVm('i1', null);
    expect((await store.instances.get('i1'))?.vmCid).toBeNull();
  });

  it('orphans disks and lists them by state', async () => {
    await store.disks.create({ cid: 'disk1', sizeMiB: 100, instanceId: 'i1', deployment: 'd' });
    await store.disks.setHint('disk1', { path: '/dev/loop1' });
    expect((await store.disks.activeForInstance('i1'))[0]?.hint).toEqual({ path: '/dev/loop1' });
    await store.disks.orphan('disk1');
    expect(await store.disks.activeForInstance('i1')).toEqual([]);
    const [orphan] = await store.disks.list({ orphaned: true });
    expect(orphan).toMatchObject({ cid: 'disk1', state: 'orphaned', instanceId: null, deployment: 'd', hint: null });
    expect(orphan?.orphanedAt).not.toBeNull();
  });

  it('gives a lock to one task at a time and takes over an expired one', async () => {
    expect(await store.locks.acquire('deployment:d', 1, 60_000)).toEqual({ acquired: true });
    const second = await store.locks.acquire('deployment:d', 2, 60_000);
    expect(second).toMatchObject({ acquired: false, holder: { taskId: 1 } });
    await store.locks.release('deployment:d', 2); // not the holder: no effect
    expect((await store.locks.list()).map((l) => l.taskId)).toEqual([1]);
    await store.locks.acquire('deployment:e', 3, -1); // already expired
    expect(await store.locks.acquire('deployment:e', 4, 60_000)).toEqual({ acquired: true });
  });

  it('numbers tasks and their events, lists newest first', async () => {
    const a = await store.tasks.create({ description: 'a', deployment: 'd', user: 'u', state: 'queued' });
    const b = await store.tasks.create({ description: 'b', deployment: null, user: 'u', state: 'queued' });
    expect(b.id).toBe(a.id + 1);
    expect((await store.tasks.list()).map((t) => t.id)).toEqual([b.id, a.id]);
    expect((await store.tasks.list({ deployment: 'd' })).map((t) => t.id)).toEqual([a.id]);
    await store.taskEvents.append(a.id, { seq: 1, time: 't', stage: 's', step: 'x', index: 1, total: 1, state: 'started' });
    await store.taskEvents.append(a.id, { seq: 2, time: 't', stage: 's', step: 'x', index: 1, total: 1, state: 'finished' });
    expect((await store.taskEvents.list(a.id, 1)).map((e) => e.seq)).toEqual([2]);
    expect(await store.taskEvents.lastSeq(a.id)).toBe(2);
  });

  it('keeps audit events, alerts and config', async () => {
    await store.auditEvents.record({ user: 'u', action: 'x', objectType: 't', objectName: 'n', deployment: 'd' });
    expect(await store.auditEvents.exists('x', 'n')).toBe(true);
    expect((await store.auditEvents.list({ deployment: 'd' }))[0]).toMatchObject({ user: 'u', action: 'x', context: {} });
    await store.alerts.record({ id: 'a', severity: 2, category: 'c', title: 't', summary: 's', deployment: null, instance: null, createdAt: 'now' });
    expect(await store.alerts.list()).toHaveLength(1);
    await store.config.set('k', 'v1');
    await store.config.set('k', 'v2');
    expect(await store.config.get('k')).toBe('v2');
  });

  it('never stores a secret in task events, task errors or audit events (the ssh command text too)', async () => {
    const task = await store.tasks.create({ description: 'deploy', deployment: 'd', user: 'admin', state: 'processing' });
    await store.taskEvents.append(task.id, {
      seq: 1,
      time: '2026-01-01T00:00:00.000Z',
      stage: 'Updating',
      step: 'g/0',
      index: 1,
      total: 1,
      state: 'failed',
      error: 'container db failed: env POSTGRES_PASSWORD=hunter2 rejected',
      data: { spec: { containers: [{ env: { API_TOKEN: 'tok-123', HOST: 'h' } }] } },
    });
    await store.tasks.update(task.id, { state: 'error', error: 'docker run -e DB_PASSWORD=pw-456 failed' });
    await store.auditEvents.record({
      user: 'admin',
      action: 'ssh',
      objectType: 'instance',
      objectName: 'g/0',
      deployment: 'd',
      context: { command: 'PGPASSWORD=pg-789 psql -c "select 1"' },
      error: 'exit 1: SECRET_KEY=sk-000',
    });
    const stored = JSON.stringify([await store.taskEvents.list(task.id), await store.tasks.get(task.id), await store.auditEvents.list()]);
    expect(stored).not.toMatch(/hunter2|tok-123|pw-456|pg-789|sk-000/);
    expect(stored).toContain('PGPASSWORD=<redacted> psql');
    expect(stored).toContain('"HOST":"h"');
  });
});
