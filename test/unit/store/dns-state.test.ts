import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Store } from '../../../src/store/store.js';
import type { StoreChange } from '../../../src/store/store.js';

describe('store: DNS state and the change feed (SQLite :memory:)', () => {
  let store: Store;
  beforeEach(async () => {
    store = await Store.create({ kind: 'sqlite', path: ':memory:' });
  });
  afterEach(async () => {
    await store.close();
  });

  it('keeps the last record set with its version, and never goes back to an older version', async () => {
    expect(await store.dnsState.get()).toBeUndefined();
    await store.dnsState.save(1, '{"a":1}');
    await store.dnsState.save(5, '{"a":5}');
    expect(await store.dnsState.get()).toEqual({ version: 5, setJson: '{"a":5}' });
    await expect(store.dnsState.save(5, '{}')).rejects.toThrow(/not newer than the saved version 5/);
    await expect(store.dnsState.save(3, '{}')).rejects.toThrow();
    expect((await store.dnsState.get())?.version).toBe(5);
  });

  it('announces every write to an instance and to a deployment\'s manifest', async () => {
    const seen: StoreChange[] = [];
    const off = store.changes.on((c) => seen.push(c));
    await store.deployments.setPending('d', 'v1');
    await store.instances.create({ id: 'i1', deployment: 'd', group: 'g', index: 0 });
    await store.instances.setVm('i1', { vmCid: 'vm1', agentId: 'a1', ip: '10.0.0.2' });
    await store.instances.setApplied('i1', '{}', 'h');
    await store.instances.setDesired('i1', 'stopped');
    await store.instances.recordHeartbeat('i1', new Date().toISOString(), 'running'); // not a DNS change
    await store.instances.setVm('i1', null);
    await store.deployments.markDeployed('d', 'v1');
    await store.instances.delete('i1');
    await store.deployments.delete('d');
    off();
    await store.deployments.setPending('e', 'v1');
    const i = { table: 'instances', instanceId: 'i1' };
    const d = { table: 'deployments', deployment: 'd' };
    expect(seen).toEqual([d, i, i, i, i, i, d, i, d]);
    expect(await store.instances.listAll()).toEqual([]);
  });
});
