/** Migration 0005: instances remember the stemcell their VM booted, filled from vm_stemcells for VMs that exist. */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect, sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { migrateTo } from '../../../src/store/migrations.js';
import { Store } from '../../../src/store/store.js';

describe('migration 0005_instance_stemcells', () => {
  let dir: string;
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('gives each instance with a recorded VM the name and version of the stemcell that VM booted', async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'bosun-test-store-'));
    const file = path.join(dir, 'db.sqlite');
    const old = new Kysely<unknown>({ dialect: new SqliteDialect({ database: new BetterSqlite3(file) }) });
    await migrateTo(old, 'sqlite', '0004_stemcells');
    const at = '2026-01-01T00:00:00Z';
    await sql`insert into instances (id, deployment, group_name, idx, desired_state, vm_cid, agent_id, created_at)
              values ('i1', 'demo', 'db', 0, 'started', 'vm-1', 'a1', ${at}), ('i2', 'demo', 'db', 1, 'started', 'vm-2', 'a2', ${at}), ('i3', 'demo', 'db', 2, 'started', null, null, ${at})`.execute(old);
    await sql`insert into stemcells (name, version, operating_system, api_version, formats_json, sha1, cid, uploaded_at)
              values ('bosun-debian-12', '0.1.0-A', 'debian-12', 3, '[]', 'x', 'sc-1', ${at})`.execute(old);
    await sql`insert into vm_stemcells (vm_cid, stemcell_cid) values ('vm-1', 'sc-1')`.execute(old);
    await old.destroy();

    const store = await Store.create({ kind: 'sqlite', path: file });
    try {
      const stemcells = (await store.instances.listByDeployment('demo')).map((i) => [i.id, i.stemcell]);
      // vm-2 was a host-binaries VM (no stemcell recorded): the next deploy recreates it on one.
      expect(stemcells).toEqual([
        ['i1', { name: 'bosun-debian-12', version: '0.1.0-A' }],
        ['i2', null],
        ['i3', null],
      ]);
      await store.instances.setStemcell('i3', { name: 'bosun-debian-12', version: '0.1.0-B' });
      expect((await store.instances.get('i3'))?.stemcell).toEqual({ name: 'bosun-debian-12', version: '0.1.0-B' });
    } finally {
      await store.close();
    }
  });
});
