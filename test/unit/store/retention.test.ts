import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/common/logger.js';
import { loadDaemonConfig } from '../../../src/director/daemon/daemon-config.js';
import { DEFAULT_RETENTION, pruneHistory, startHistoryPruner } from '../../../src/store/retention.js';
import { Store } from '../../../src/store/store.js';

const DAY = 24 * 3600_000;
const NOW = Date.parse('2026-06-01T00:00:00.000Z');
const ago = (days: number) => new Date(NOW - days * DAY).toISOString();

describe('history retention', () => {
  let store: Store;
  beforeEach(async () => {
    store = await Store.create({ kind: 'sqlite', path: ':memory:' });
  });
  afterEach(async () => {
    await store.close();
  });

  async function task(state: 'done' | 'error' | 'processing', endedDaysAgo: number | null): Promise<number> {
    const t = await store.tasks.create({ description: 'deploy', deployment: 'd', user: 'admin', state });
    if (endedDaysAgo !== null) await store.tasks.update(t.id, { endedAt: ago(endedDaysAgo) });
    await store.db.updateTable('tasks').set({ created_at: ago((endedDaysAgo ?? 60) + 1) }).where('id', '=', t.id).execute();
    for (let seq = 1; seq <= 3; seq++)
      await store.taskEvents.append(t.id, { seq, time: ago(1), stage: 's', step: 'x', index: 1, total: 1, state: 'started' });
    return t.id;
  }

  async function alert(id: string, daysAgo: number): Promise<void> {
    await store.alerts.record({ id, severity: 2, category: 'c', title: 't', summary: 's', deployment: 'd', instance: null, createdAt: ago(daysAgo) });
  }

  it('deletes finished tasks (with their events), alerts and audit events past their age; never a running task', async () => {
    const old = await task('done', 40);
    const oldError = await task('error', 31);
    const recent = await task('done', 2);
    const running = await task('processing', null);
    await alert('old', 45);
    await alert('new', 1);
    await store.auditEvents.record({ user: 'admin', action: 'deploy', objectType: 'deployment', objectName: 'd' });
    await store.auditEvents.record({ user: 'admin', action: 'deploy', objectType: 'deployment', objectName: 'd' });
    await store.db.updateTable('audit_events').set({ time: ago(90) }).where('id', '=', 1).execute();
    await store.db.updateTable('audit_events').set({ time: ago(3) }).where('id', '=', 2).execute();

    const result = await pruneHistory(store.db, DEFAULT_RETENTION, NOW);
    expect(result).toEqual({ tasks: 2, alerts: 1, auditEvents: 1 });
    expect((await store.tasks.list()).map((t) => t.id).sort()).toEqual([recent, running].sort());
    expect(await store.taskEvents.list(old)).toEqual([]);
    expect(await store.taskEvents.list(oldError)).toEqual([]);
    expect(await store.taskEvents.list(recent)).toHaveLength(3);
    expect((await store.alerts.list()).map((a) => a.id)).toEqual(['new']);
    expect((await store.auditEvents.list()).map((e) => e.id)).toEqual([2]);
  });

  it('keeps at most the newest max_tasks finished tasks, max_alerts alerts and max_audit_events audit events', async () => {
    const ids: number[] = [];
    for (let i = 0; i < 6; i++) ids.push(await task('done', 1));
    const running = await task('processing', null);
    for (let i = 0; i < 5; i++) await alert(`a${i}`, 5 - i);
    for (let i = 0; i < 5; i++)
      await store.auditEvents.record({ user: 'admin', action: 'ssh', objectType: 'instance', objectName: `g/${i}` });

    await pruneHistory(store.db, { maxAgeMs: 365 * DAY, maxTasks: 2, maxAlerts: 3, maxAuditEvents: 2 }, NOW);
    expect((await store.tasks.list()).map((t) => t.id)).toEqual([running, ids[5], ids[4]]);
    expect((await store.alerts.list()).map((a) => a.id)).toEqual(['a4', 'a3', 'a2']);
    expect((await store.auditEvents.list()).map((e) => e.objectName)).toEqual(['g/4', 'g/3']);
  });

  it('prunes at start-up, then on its interval', async () => {
    await task('done', 400);
    const pruner = startHistoryPruner(store.db, DEFAULT_RETENTION, { intervalMs: 3600_000, logger: silentLogger });
    await pruner.done;
    expect(await store.tasks.list()).toEqual([]);
    await pruner.stop();
  });
});

describe('the retention section of the director config', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bosun-retention-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('becomes director settings; unknown keys are refused', async () => {
    const file = join(dir, 'director.yml');
    await writeFile(file, 'retention:\n  max_age: 168h\n  max_tasks: 500\n  prune_interval: 10m\napi:\n  upload_max_size: 2g\n');
    const config = await loadDaemonConfig({ dataDir: dir, configFile: file });
    expect(config.retention).toEqual({ retentionMaxAgeMs: 7 * DAY, retentionMaxTasks: 500, retentionPruneIntervalMs: 600_000 });
    expect(config.apiLimits.uploadMaxBytes).toBe(2 * 1024 ** 3);
    await writeFile(file, 'retention:\n  keep: forever\n');
    await expect(loadDaemonConfig({ dataDir: dir, configFile: file })).rejects.toThrow(/retention/);
  });
});
