import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadManifest, planDeployment, serializeManifest } from '../../../src/manifest/index.js';

const VALID = join(import.meta.dirname, '../../fixtures/manifests/valid');
const read = (f: string): string => readFileSync(join(VALID, f), 'utf8');

describe('docker BOSH release manifests', () => {
  it('converts a v1 manifest (jobs + templates + properties.containers)', () => {
    const loaded = loadManifest(read('seed-v1-jobs.yml'));
    expect(loaded.format).toBe('bosh-release-v1');
    const m = loaded.manifest;
    expect(m.name).toBe('docker-orchestra');
    expect(m.update).toEqual({
      canaries: 0,
      max_in_flight: 32,
      canary_watch_time: '1000-60000',
      update_watch_time: '1000-60000',
      serial: false,
    });
    expect(m.instance_groups.map((g) => [g.name, g.instances, g.persistent_disk, g.vm_type])).toEqual([
      ['docker-vm-1', 1, 65536, 'default'],
      ['docker-vm-2', 1, 65536, 'default'],
    ]);
    expect(m.instance_groups[0]?.cloud_properties).toEqual({ machine_type: 'n1-standard-2' });
    expect(m.instance_groups[0]?.containers.map((c) => c.name)).toEqual(['redis', 'mysql', 'elasticsearch']);
    expect(m.instance_groups[1]?.docker).toEqual({ storage_driver: 'overlay2', dns: ['10.0.0.2'] });
    expect(loaded.warnings.map((w) => `${w.path}: ${w.message}`)).toEqual([
      expect.stringMatching(
        /^jobs\[1\]\.properties\.docker\.tcp_address: docker job property "tcp_address" is ignored/,
      ),
    ]);
    expect(loaded.warnings[0]?.line).toBe(95);

    const redis = planDeployment(m).groups[0]?.instances[0]?.containers.find((c) => c.name === 'redis');
    // The release split values on commas; bosun keeps them whole.
    expect(redis?.create.Env).toEqual(['EXAMPLE_VAR=1', 'LIST=a,b,c']);
  });

  it('converts a v2 manifest (instance_groups + jobs) and keeps "$" in its dockerfile', () => {
    const loaded = loadManifest(read('release-v2-instance-groups.yml'));
    expect(loaded.format).toBe('bosh-release-v2');
    const g = loaded.manifest.instance_groups[0];
    expect(g?.docker).toEqual({ log_options: ['max-size=10m', 'max-file=3'] });
    expect(g?.networks).toEqual([{ name: 'default' }]);
    const warned = loaded.warnings.map((w) => w.path);
    expect(warned).toEqual(
      expect.arrayContaining([
        'instance_groups[0].jobs[0].properties.docker.tls_key',
        'instance_groups[0].jobs[1].properties.containers[1].disable_content_trust',
      ]),
    );
    const plan = planDeployment(loaded.manifest);
    const inst = plan.groups[0]?.instances[0];
    expect(inst?.docker.logOptions).toEqual({ 'max-size': '10m', 'max-file': '3' });
    expect(inst?.containers.map((c) => c.name)).toEqual(['redis', 'mysql', 'elasticsearch']);
    const es = inst?.containers.find((c) => c.name === 'elasticsearch');
    expect(es?.build?.dockerfile).toContain('echo $HOME');
    expect(es?.image).toMatch(/^bosh\/elasticsearch:latest-[0-9a-f]{12}$/);
    // One sub-directory per bind volume, per container (the release used one directory for all).
    expect(inst?.containers.flatMap((c) => c.mounts.map((mt) => mt.source.path))).toEqual([
      'containers/redis/var/lib/redis',
      'containers/mysql/mysql',
      'containers/elasticsearch/data',
    ]);
  });

  it('prints converted manifests as native YAML that loads back to the same manifest', () => {
    for (const f of ['seed-v1-jobs.yml', 'release-v2-instance-groups.yml', 'native-all-keys.yml']) {
      const native = loadManifest(read(f)).manifest;
      const text = serializeManifest(native);
      expect(text).not.toMatch(/^jobs:/m);
      const again = loadManifest(text);
      expect(again.format).toBe('native');
      expect(again.manifest).toEqual(native);
    }
  });

  it('warns when containers keep data but the group has no persistent disk', () => {
    const loaded = loadManifest(
      'name: t\ninstance_groups:\n  - name: vm\n    instances: 1\n    containers:\n      - name: redis\n        image: redis:7\n        bind_volumes: ["/data"]\n',
    );
    expect(loaded.warnings).toEqual([
      expect.objectContaining({
        severity: 'warning',
        path: 'instance_groups[0].containers[0].bind_volumes',
        line: 8,
        column: 23,
      }),
    ]);
    expect(loaded.warnings[0]?.message).toContain('the data would be lost when the VM is replaced');
  });
});
