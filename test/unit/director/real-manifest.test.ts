import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeCloud } from '../../../src/cloud/fake/index.js';
import { Director } from '../../../src/director/director.js';
import { addTestStemcell } from '../../helpers/director-fixtures.js';

/** The director with its default manifest adapter over src/manifest, on the fake cloud. */
describe('director with the real manifest module', () => {
  let director: Director | undefined;
  let cloud: FakeCloud | undefined;
  afterEach(async () => {
    await director?.close();
    cloud?.shutdown();
  });

  it('deploys the demo manifest, redeploys it unchanged without touching anything, and rejects an invalid one before any task', async () => {
    const text = readFileSync(new URL('../../fixtures/manifests/valid/native-demo.yml', import.meta.url), 'utf8')
      .replace('canary_watch_time: 1000-30000', 'canary_watch_time: 0-200')
      .replace('update_watch_time: 1000-30000', 'update_watch_time: 0-200');
    cloud = new FakeCloud({ unresponsiveTimeoutMs: 100, heartbeatIntervalMs: 60_000 });
    director = await Director.create({
      config: { dataDir: '/nonexistent', databasePath: ':memory:', directorUrl: 'https://127.0.0.1:25555', ca: { certPem: 'c', keyPem: 'k' }, agentPingIntervalMs: 10, watchPollIntervalMs: 10 },
      cloud,
      agentConnector: cloud.agentConnector,
      agentCredentials: (id) => ({ caPem: 'c', certPem: id, keyPem: id }),
    });
    await addTestStemcell(director);
    const diff = await director.diff({ manifest: text });
    expect(diff.deployment).toBe('demo');
    expect(diff.changes.length).toBeGreaterThan(0);
    const task = await director.deploy({ manifest: text }, 'admin');
    const done = await director.tasks.wait(task.id);
    expect(done.error).toBeNull();
    const [instance] = await director.listInstances('demo', { ps: true });
    expect(instance?.containers?.map((c) => c.name).sort()).toEqual(['notes', 'redis', 'web']);
    expect(instance?.diskCids).toHaveLength(1);

    const calls = cloud.calls.length;
    const again = await director.tasks.wait((await director.deploy({ manifest: text }, 'admin')).id);
    expect(again.error).toBeNull();
    expect(cloud.calls.length).toBe(calls);

    await expect(director.deploy({ manifest: 'name: demo\ninstance_groups: 3\n' }, 'admin')).rejects.toThrow(/invalid/);
    expect(await director.listTasks({})).toHaveLength(2);
  });
});
