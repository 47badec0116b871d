import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InvalidManifestError } from '../../../src/common/errors.js';
import { loadDaemonConfig } from '../../../src/director/daemon/daemon-config.js';
import { manifestModule, manifestModuleWith } from '../../../src/director/deploy/manifest-adapter.js';

const dir = mkdtempSync(join(tmpdir(), 'bosun-host-paths-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const MANIFEST =
  'name: t\ninstance_groups:\n  - name: vm\n    instances: 1\n    persistent_disk: 1024\n    containers:\n      - {name: app, image: busybox, volumes: ["/etc/ssl/certs:/certs"]}\n';

describe("the director's host-path policy", () => {
  it('is read from manifest_policy.allowed_host_paths in the director config (default: none)', async () => {
    expect((await loadDaemonConfig({ dataDir: dir })).allowedHostPaths).toEqual([]);
    const file = join(dir, 'director.yml');
    writeFileSync(file, 'manifest_policy: {allowed_host_paths: [/etc/ssl]}\n');
    expect((await loadDaemonConfig({ dataDir: dir, configFile: file })).allowedHostPaths).toEqual(['/etc/ssl']);
    writeFileSync(file, 'manifest_policy: {allowed_host_paths: [etc]}\n');
    await expect(loadDaemonConfig({ dataDir: dir, configFile: file })).rejects.toThrow(/absolute directory/);
  });

  it('decides what the director accepts', () => {
    expect(() => manifestModule.load(MANIFEST)).toThrow(InvalidManifestError);
    const loaded = manifestModuleWith({ allowedHostPaths: ['/etc/ssl'] }).load(MANIFEST);
    expect(loaded.name).toBe('t');
  });
});
