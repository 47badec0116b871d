/** Migration 0002: disks get mounted_before (existing ones: 1), disk migrations move out of `config`. */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect, sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { migrateTo } from '../../../src/store/migrations.js';
import { Store } from '../../../src/store/store.js';

describe('migration 0002_disk_mounted_before_and_migrations', () => {
  let dir: string;
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps existing disks as "may hold data" and moves recorded disk migrations into their table', async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'bosun-test-store-'));
    const file = path.join(dir, 'db.sqlite');
    const old = new Kysely<unknown>({ dialect: new SqliteDialect({ database: new BetterSqlite3(file) }) });
    await migrateTo(old, 'sqlite', '0001_initial');
    await sql`insert into disks (cid, size_mib, instance_id, deployment, state, hint_json, created_at, orphaned_at)
              values ('disk-old', 1024, 'i1', 'demo', 'active', null, '2026-01-01T00:00:00Z', null)`.execute(old);
    const legacy = {
      instanceId: 'i1',
      deployment: 'demo',
      vmCid: 'vm-1',
      oldDiskCid: 'disk-old',
      newDiskCid: 'disk-new',
      newSizeMiB: 512,
      phase: 'copying',
      copyStartedAtMs: 1_767_225_600_123,
      startedAt: '2026-01-01T00:00:01Z',
    };
    await sql`insert into config (key, value) values ('disk_migration:i1', ${JSON.stringify(legacy)}), ('director_uuid', 'u')`.execute(old);
    await old.destroy();

    const store = await Store.create({ kind: 'sqlite', path: file });
    try {
      expect((await store.disks.get('disk-old'))?.mountedBefore).toBe(true);
      expect(await store.diskMigrations.list()).toEqual([legacy]);
      expect(await store.config.get('disk_migration:i1')).toBeUndefined();
      expect(await store.config.get('director_uuid')).toBe('u');
      const fresh = await store.disks.create({ cid: 'disk-2', sizeMiB: 64, instanceId: 'i2', deployment: 'demo' });
      expect(fresh.mountedBefore).toBe(false);
      await store.disks.markMounted('disk-2');
      expect((await store.disks.get('disk-2'))?.mountedBefore).toBe(true);
    } finally {
      await store.close();
    }
  });
});
