/** Migration 0008 and the ip_reservations repository: unique per network and address across deployments, per-instance replace and release. */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect, sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { migrateTo } from '../../../src/store/migrations.js';
import { Store } from '../../../src/store/store.js';

const settings = (ip: string) => ({ type: 'manual' as const, ip, netmask: '255.255.255.0', gateway: '10.0.0.1' });
const res = (network: string, address: string, deployment = 'demo', isStatic = false) => ({ network, address, deployment, static: isStatic, settings: settings(address) });

describe('ip reservations (migration 0008_ip_reservations)', () => {
  let dir: string;
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('adds the table over an older schema; existing instances have no recorded networks', async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'bosun-test-store-'));
    const file = path.join(dir, 'db.sqlite');
    const old = new Kysely<unknown>({ dialect: new SqliteDialect({ database: new BetterSqlite3(file) }) });
    await migrateTo(old, 'sqlite', '0007_cloud_configs');
    await sql`insert into instances (id, deployment, group_name, idx, desired_state, vm_cid, agent_id, created_at)
              values ('i1', 'demo', 'db', 0, 'started', 'vm-1', 'a1', '2026-01-01T00:00:00Z')`.execute(old);
    await old.destroy();
    const store = await Store.create({ kind: 'sqlite', path: file });
    try {
      expect(await store.instances.get('i1')).toMatchObject({ networks: null });
      await store.instances.setNetworks('i1', { private: settings('10.0.0.5') });
      expect((await store.instances.get('i1'))?.networks).toEqual({ private: settings('10.0.0.5') });
      expect(await store.ipReservations.list()).toEqual([]);
    } finally {
      await store.close();
    }
  });

  it('one owner per network and address across deployments; replace keeps, releases and adds; release frees at once', async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'bosun-test-store-'));
    const store = await Store.create({ kind: 'sqlite', path: ':memory:' });
    try {
      await store.ipReservations.replaceForInstance('a', [res('private', '10.0.0.5', 'demo', true), res('public', '10.1.0.5')]);
      // Another deployment's instance cannot take the same address, and nothing of its change is kept.
      await expect(store.ipReservations.replaceForInstance('b', [res('public', '10.1.0.6', 'other'), res('private', '10.0.0.5', 'other')])).rejects.toThrow(/UNIQUE/);
      expect(await store.ipReservations.forInstance('b')).toEqual([]);
      // The same address on another network is another address.
      await store.ipReservations.replaceForInstance('b', [res('other-net', '10.0.0.5', 'other')]);
      await store.ipReservations.replaceForInstance('a', [res('private', '10.0.0.5', 'demo', true), res('public', '10.1.0.7')]);
      expect((await store.ipReservations.forInstance('a')).map((r) => `${r.network} ${r.address} ${String(r.static)}`)).toEqual(['private 10.0.0.5 true', 'public 10.1.0.7 false']);
      await store.ipReservations.releaseInstance('a');
      await store.ipReservations.replaceForInstance('c', [res('private', '10.0.0.5', 'third')]);
      expect((await store.ipReservations.list()).map((r) => `${r.instanceId} ${r.network} ${r.address}`)).toEqual(['b other-net 10.0.0.5', 'c private 10.0.0.5']);
      await store.ipReservations.releaseDeployment('third');
      expect((await store.ipReservations.list()).map((r) => r.instanceId)).toEqual(['b']);
    } finally {
      await store.close();
    }
  });
});
