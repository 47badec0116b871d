import { describe, expect, it } from 'vitest';
import { loadCloudConfig } from '../../../src/manifest/cloud-config.js';
import { mergeCloudProperties, resolveGroup, type CloudConfigRefs } from '../../../src/manifest/cloud-config-resolve.js';
import { diffManifests, loadManifest, planDeployment } from '../../../src/manifest/index.js';

const refs = (r: Partial<CloudConfigRefs>): CloudConfigRefs => ({ vmType: null, vmExtensions: [], azs: [], persistentDiskType: null, networks: [], ...r });

describe('resolveGroup', () => {
  const config = loadCloudConfig(`
azs: [{name: z1, cloud_properties: {zone: a}}, {name: z2, cloud_properties: {zone: b}}, {name: z3}]
vm_types: [{name: small, cloud_properties: {cpus: 1, zone: type-zone}}]
networks: [{name: default, type: dynamic}]
`).config;

  it('spreads instances over the azs round-robin by index; the vm_type wins over the az, inline over both', () => {
    const problems: string[] = [];
    const r = resolveGroup(config, 'db', refs({ vmType: 'small', azs: ['z1', 'z2', 'z3'] }), { cpus: 8 }, 5, problems);
    expect(problems).toEqual([]);
    expect(r.placements.map((p) => p.az)).toEqual(['z1', 'z2', 'z3', 'z1', 'z2']);
    expect(r.placements[0]?.cloudProperties).toEqual({ zone: 'type-zone', cpus: 8 });
    expect(r.placements[2]?.cloudProperties).toEqual({ zone: 'type-zone', cpus: 8 });
  });

  it('names the section that is missing altogether, and networks by name (static_ips and default accepted)', () => {
    const problems: string[] = [];
    resolveGroup(config, 'db', refs({ persistentDiskType: 'ssd', vmExtensions: ['lb'], networks: ['default', 'other'] }), {}, 1, problems);
    expect(problems).toEqual([
      'instance group "db": vm_extensions "lb" is not in the cloud config (it has no vm_extensions)',
      'instance group "db": network "other" is not in the cloud config (networks: "default")',
      'instance group "db": persistent_disk_type "ssd" is not in the cloud config (it has no disk_types)',
    ]);
    const m = loadManifest(
      'name: t\ninstance_groups:\n- name: db\n  instances: 1\n  networks: [{name: default, static_ips: [10.0.0.5], default: [dns, gateway]}]\n  containers: [{name: redis, image: "redis:7"}]\n',
    ).manifest;
    expect(() => planDeployment(m, { cloudConfig: config })).not.toThrow();
  });

  it('without a cloud config keeps vm_type as the cloud property it always was', () => {
    const problems: string[] = [];
    const r = resolveGroup(null, 'db', refs({ vmType: 'default', networks: ['default'] }), { ram: 1 }, 1, problems);
    expect(problems).toEqual([]);
    expect(r.placements[0]).toEqual({ az: null, cloudProperties: { vm_type: 'default', ram: 1 } });
  });

  it('merges nested maps key by key', () => {
    expect(mergeCloudProperties({ a: { x: 1, y: 2 }, b: 1 }, { a: { y: 3 }, c: 2 })).toEqual({ a: { x: 1, y: 3 }, b: 1, c: 2 });
  });
});

describe('the manifest diff of a disk type', () => {
  it('names the type instead of claiming the disk is removed', () => {
    const m = (disk: string) => loadManifest(`name: t\ninstance_groups:\n- name: db\n  instances: 1\n  ${disk}\n  containers: [{name: redis, image: "redis:7"}]\n`).manifest;
    const diff = diffManifests(m('persistent_disk: 1024'), m('persistent_disk_type: ssd'));
    expect(diff.changes).toEqual([{ subject: 'db/0', kind: 'disk_size', summary: 'persistent disk 1024 MiB → of disk type "ssd" (its size is the cloud config\'s)' }]);
    expect(diff.warnings).toEqual([]);
    expect(diffManifests(m('persistent_disk_type: ssd'), m('persistent_disk_type: ssd')).changes).toEqual([]);
  });
});
