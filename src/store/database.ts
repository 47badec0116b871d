/**
 * The one place that knows which SQL dialect the director runs on (SQLite, through better-sqlite3).
 * Callers get a typed Kysely<DatabaseSchema> and never see the driver.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import type { DatabaseSchema } from './schema.js';
import { migrateToLatest } from './migrations.js';
import type { DialectKind } from './migrations.js';

export type DatabaseConfig = { kind: 'sqlite'; path: string };

export interface OpenDatabase {
  db: Kysely<DatabaseSchema>;
  kind: DialectKind;
  close(): Promise<void>;
}

export async function createDatabase(config: DatabaseConfig): Promise<OpenDatabase> {
  if (config.kind !== 'sqlite') {
    throw new Error(`Unsupported database kind "${(config as { kind: string }).kind}"; use "sqlite".`);
  }
  if (config.path !== ':memory:') mkdirSync(dirname(config.path), { recursive: true });
  const sqlite = new BetterSqlite3(config.path);
  // WAL: readers (API requests) do not block the task writing events; busy_timeout for other processes.
  if (config.path !== ':memory:') sqlite.pragma('journal_mode = WAL');
  // FULL, not WAL's NORMAL (better-sqlite3's build default on reopen): a commit such as a disk
  // swap must be on disk before the director acts on it, and survive a power loss.
  sqlite.pragma('synchronous = FULL');
  sqlite.pragma('busy_timeout = 5000');
  sqlite.pragma('foreign_keys = ON');
  const db = new Kysely<DatabaseSchema>({ dialect: new SqliteDialect({ database: sqlite }) });
  await migrateToLatest(db as unknown as Kysely<unknown>, 'sqlite');
  return { db, kind: 'sqlite', close: () => db.destroy() };
}
