import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Kysely } from 'kysely';
import { directorHealthState } from '../../../src/store/migrations/0003-director-health-state.js';
import { Store } from '../../../src/store/store.js';
import { createTestDirector } from '../../helpers/director-fixtures.js';

describe('health state in its own table', () => {
  let store: Store;
  beforeEach(async () => {
    store = await Store.create({ kind: 'sqlite', path: ':memory:' });
  });
  afterEach(async () => {
    await store.close();
  });

  it('keeps the meltdown stops in resurrection_stops, not as a JSON blob in config', async () => {
    await store.resurrectionStops.replaceAll({ demo: '2026-01-01T00:00:00.000Z', other: '2026-01-02T00:00:00.000Z' });
    expect(await store.resurrectionStops.list()).toEqual({ demo: '2026-01-01T00:00:00.000Z', other: '2026-01-02T00:00:00.000Z' });
    await store.resurrectionStops.replaceAll({ other: '2026-01-02T00:00:00.000Z' });
    expect(await store.resurrectionStops.list()).toEqual({ other: '2026-01-02T00:00:00.000Z' });
    expect(await store.config.get('resurrector_meltdowns')).toBeUndefined();
  });

  it('the migration moves a blob an older director left, and can run again', async () => {
    await store.config.set('resurrector_meltdowns', JSON.stringify({ demo: '2026-01-01T00:00:00.000Z' }));
    await directorHealthState.up(store.db as unknown as Kysely<unknown>);
    await directorHealthState.up(store.db as unknown as Kysely<unknown>);
    expect(await store.resurrectionStops.list()).toEqual({ demo: '2026-01-01T00:00:00.000Z' });
    expect(await store.config.get('resurrector_meltdowns')).toBeUndefined();
    const columns = (await store.db.introspection.getTables()).find((t) => t.name === 'instances')?.columns.map((c) => c.name);
    expect(columns).not.toContain('heartbeat_json');
  });

  it('the director persists a meltdown stop through the repository', async () => {
    const t = await createTestDirector({ health: { resurrector: { minimum_down_jobs: 1, percent_threshold: 1 } } });
    try {
      const stops = t.director.health.resurrector;
      expect(stops).toBeDefined();
      await t.director.store.resurrectionStops.replaceAll({ demo: '2026-01-01T00:00:00.000Z' });
      await t.director.setResurrection(true, undefined, 'admin');
      // Loading and lifting the stop went through the table.
      expect(await t.director.store.resurrectionStops.list()).toEqual({});
    } finally {
      await t.close();
    }
  });
});
