import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createDatabase } from '../../../src/store/database.js';

describe('the director database (SQLite file)', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bosun-db-test-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('runs with synchronous=FULL, also when it reopens a database already in WAL mode', async () => {
    const path = join(dir, 'director.sqlite');
    for (let open = 0; open < 2; open++) {
      const database = await createDatabase({ kind: 'sqlite', path });
      const r = await sql<{ synchronous: number }>`pragma synchronous`.execute(database.db);
      expect(r.rows[0]?.synchronous).toBe(2); // 2 = FULL
      await database.close();
    }
  });

  it('finishes the first migration after a crash part-way through it', async () => {
    const path = join(dir, 'director.sqlite');
    // What a crash after the first statements of 0001 leaves: some tables, no migration recorded.
    const raw = new BetterSqlite3(path);
    raw.exec('create table "deployments" ("name" text primary key, "manifest" text, "pending_manifest" text, "resurrection" integer, "created_at" text not null, "updated_at" text not null, "last_deployed_at" text)');
    raw.exec('create table "instances" ("id" text primary key, "deployment" text not null, "group_name" text not null, "idx" integer not null, "desired_state" text not null, "vm_cid" text, "agent_id" text, "ip" text, "spec_json" text, "spec_hash" text, "last_heartbeat_at" text, "job_state" text, "heartbeat_json" text, "created_at" text not null, constraint "instances_slot" unique ("deployment", "group_name", "idx"))');
    raw.exec('create index "instances_agent" on "instances" ("agent_id")');
    raw.close();

    const database = await createDatabase({ kind: 'sqlite', path });
    const tables = await sql<{ name: string }>`select name from sqlite_master where type = 'table'`.execute(database.db);
    expect(tables.rows.map((r) => r.name)).toEqual(expect.arrayContaining(['deployments', 'instances', 'tasks', 'config', 'locks']));
    const done = await sql<{ name: string }>`select name from kysely_migration`.execute(database.db);
    expect(done.rows.map((r) => r.name)).toContain('0001_initial');
    await database.close();
  });
});
