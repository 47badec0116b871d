/** Migration 0007: the cloud_configs table, and each instance's AZ and recorded VM cloud properties. */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect, sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { migrateTo } from '../../../src/store/migrations.js';
import { Store } from '../../../src/store/store.js';

describe('migration 0007_cloud_configs', () => {
  let dir: string;
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('leaves existing instances without AZ and recorded cloud properties, and keeps cloud config versions', async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'bosun-test-store-'));
    const file = path.join(dir, 'db.sqlite');
    const old = new Kysely<unknown>({ dialect: new SqliteDialect({ database: new BetterSqlite3(file) }) });
    await migrateTo(old, 'sqlite', '0005_instance_stemcells');
    await sql`insert into instances (id, deployment, group_name, idx, desired_state, vm_cid, agent_id, created_at)
              values ('i1', 'demo', 'db', 0, 'started', 'vm-1', 'a1', '2026-01-01T00:00:00Z')`.execute(old);
    await old.destroy();

    const store = await Store.create({ kind: 'sqlite', path: file });
    try {
      expect(await store.instances.get('i1')).toMatchObject({ az: null, cloudProperties: null });
      await store.instances.setAz('i1', 'z1');
      await store.instances.setCloudProperties('i1', { zone: 'a' });
      expect(await store.instances.get('i1')).toMatchObject({ az: 'z1', cloudProperties: { zone: 'a' } });
      expect(await store.cloudConfigs.latest()).toBeUndefined();
      await store.cloudConfigs.add('azs: []', 'admin');
      const second = await store.cloudConfigs.add('azs: [{name: z1}]', 'ops');
      expect(second.id).toBe(2);
      expect(await store.cloudConfigs.latest()).toMatchObject({ id: 2, text: 'azs: [{name: z1}]', user: 'ops' });
    } finally {
      await store.close();
    }
  });
});
