import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FakeCloud } from '../../../src/cloud/fake/index.js';
import { InvalidManifestError } from '../../../src/common/errors.js';
import { loadDaemonConfig } from '../../../src/director/daemon/daemon-config.js';
import { manifestModule } from '../../../src/director/deploy/manifest-adapter.js';
import { Director } from '../../../src/director/director.js';
import type { DirectorConfigInput } from '../../../src/director/config.js';
import { addTestStemcell } from '../../helpers/director-fixtures.js';

const MANIFEST = `name: risky
instance_groups:
  - name: vm
    instances: 1
    containers:
      - name: plain
        image: busybox
      - name: tools
        image: busybox
        privileged: true
        devices: ["/dev/fuse:/dev/fuse"]
        cap_adds: [NET_ADMIN]
`;

async function director(policy?: DirectorConfigInput['manifestPolicy']): Promise<{ director: Director; cloud: FakeCloud; close: () => Promise<void> }> {
  const cloud = new FakeCloud({ unresponsiveTimeoutMs: 100, heartbeatIntervalMs: 60_000 });
  const d = await Director.create({
    config: {
      dataDir: '/nonexistent-bosun-test',
      databasePath: ':memory:',
      directorUrl: 'https://127.0.0.1:25555',
      ca: { certPem: 'test-ca', keyPem: 'test-ca-key' },
      ...(policy === undefined ? {} : { manifestPolicy: policy }),
    },
    cloud,
    agentConnector: cloud.agentConnector,
    manifests: manifestModule,
    agentCredentials: (agentId) => ({ caPem: 'test-ca', certPem: `cert-${agentId}`, keyPem: `key-${agentId}` }),
  });
  await addTestStemcell(d);
  return { director: d, cloud, close: async () => { await d.close(); cloud.shutdown(); } };
}

describe('manifest policy', () => {
  it('refuses privileged, devices and cap_adds before anything changes, naming each place and the setting', async () => {
    const t = await director({ allowPrivileged: false, allowDevices: false, allowCapAdds: false });
    try {
      const err = await t.director.deploy({ manifest: MANIFEST }, 'admin').then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(InvalidManifestError);
      const message = (err as Error).message;
      expect(message).toContain('instance_groups[0].containers[1].privileged (line 10, col 21): container "tools" of instance group "vm" uses privileged');
      expect(message).toContain('manifest_policy.allow_privileged: false');
      expect(message).toContain('instance_groups[0].containers[1].devices (line 11');
      expect(message).toContain('manifest_policy.allow_devices: false');
      expect(message).toContain('instance_groups[0].containers[1].cap_adds (line 12');
      expect(message).toContain('manifest_policy.allow_cap_adds: false');
      await expect(t.director.diff({ manifest: MANIFEST })).rejects.toBeInstanceOf(InvalidManifestError);
      // Nothing changed: no task, no deployment, no cloud call.
      expect(await t.director.listTasks({ recent: 10 })).toEqual([]);
      expect(await t.director.listDeployments()).toEqual([]);
      expect(t.cloud.calls.filter((c) => c.method !== 'info')).toEqual([]);
    } finally {
      await t.close();
    }
  });

  it('forbids only what is turned off, and allows everything by default', async () => {
    const onlyPrivileged = await director({ allowPrivileged: false, allowDevices: true, allowCapAdds: true });
    try {
      const message = await onlyPrivileged.director.diff({ manifest: MANIFEST }).then(() => '', (e: unknown) => (e as Error).message);
      expect(message).toContain('uses privileged');
      expect(message).not.toMatch(/uses devices|uses cap_adds/);
    } finally {
      await onlyPrivileged.close();
    }
    const permissive = await director();
    try {
      expect((await permissive.director.diff({ manifest: MANIFEST })).changes.length).toBeGreaterThan(0);
    } finally {
      await permissive.close();
    }
  });

  it('is read from the director config file (manifest_policy), each setting defaulting to allowed', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bosun-policy-'));
    try {
      const file = join(dir, 'director.yml');
      await writeFile(file, 'manifest_policy:\n  allow_privileged: false\n  allow_cap_adds: false\n');
      expect((await loadDaemonConfig({ dataDir: dir, configFile: file })).manifestPolicy).toEqual({ allowPrivileged: false, allowDevices: true, allowCapAdds: false });
      expect((await loadDaemonConfig({ dataDir: dir })).manifestPolicy).toEqual({ allowPrivileged: true, allowDevices: true, allowCapAdds: true });
      await writeFile(file, 'manifest_policy:\n  allow_priviledged: false\n');
      await expect(loadDaemonConfig({ dataDir: dir, configFile: file })).rejects.toThrow(/manifest_policy/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
