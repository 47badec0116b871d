import { describe, expect, it } from 'vitest';
import { InvalidManifestError, type ManifestProblem } from '../../../src/common/errors.js';
import { diffCloudConfigs } from '../../../src/manifest/cloud-config-diff.js';
import { loadCloudConfig } from '../../../src/manifest/cloud-config.js';

const VALID = `
azs:
- name: z1
  cloud_properties: {zone: a}
- name: z2
vm_types:
- name: small
  cloud_properties: {cpus: 1}
vm_extensions:
- name: lb
  cloud_properties: {elb: web}
disk_types:
- name: ssd
  disk_size: 2048
  cloud_properties: {type: gp3}
networks:
- name: default
  type: manual
  subnets:
  - range: 10.0.0.0/24
    gateway: 10.0.0.1
    dns: [10.0.0.2]
    reserved: [10.0.0.2 - 10.0.0.10]
    static: [10.0.0.100]
    azs: [z1, z2]
    cloud_properties: {subnet: s-1}
- name: public
  type: vip
- name: dyn
  type: dynamic
  cloud_properties: {x: 1}
compilation:
  workers: 2
`;

function problemsOf(text: string): ManifestProblem[] {
  try {
    loadCloudConfig(text, { fileName: 'cc.yml' });
  } catch (err) {
    if (err instanceof InvalidManifestError) return err.details.problems;
    throw err;
  }
  throw new Error('expected the cloud config to be refused');
}

describe('loadCloudConfig', () => {
  it('accepts every section and warns that compilation is ignored', () => {
    const loaded = loadCloudConfig(VALID);
    expect(loaded.config.azs?.map((a) => a.name)).toEqual(['z1', 'z2']);
    expect(loaded.config.disk_types?.[0]?.disk_size).toBe(2048);
    expect(loaded.warnings).toEqual([expect.objectContaining({ severity: 'warning', path: 'compilation', line: 32, message: expect.stringContaining('compilation is ignored') as string })]);
  });

  it('reports every problem with its path and line, unknown keys with the nearest known key', () => {
    const problems = problemsOf(`azs:
- name: z1
  cloud_propertes: {}
vm_types:
- name: small
- name: small
disk_types:
- name: ssd
  disk_size: 1.5
networks:
- name: default
  subnets:
  - range: 10.0.0/24
    gateway: 10.0.0.1
    az: z9
- name: empty
vm_typo: []
`);
    const brief = problems.map((p) => `${p.path}@${p.line ?? '?'}: ${p.message}`);
    expect(brief).toEqual([
      'azs[0].cloud_propertes@3: unknown key "cloud_propertes"; did you mean "cloud_properties"?',
      'vm_types[1].name@6: duplicate name "small"; vm_types[0] already uses it',
      'disk_types[0].disk_size@9: expected a whole number, got number 1.5',
      'networks[0].subnets[0].range@13: not a CIDR range; write e.g. "10.0.0.0/24"',
      'networks[0].subnets[0].az@15: az "z9" is not defined (azs: "z1")',
      'networks[1]@16: manual network "empty" has no subnets; give it subnets: [{range, gateway, ...}]',
      'vm_typo@17: unknown key "vm_typo"; did you mean "vm_types"?',
    ]);
  });

  it('names the cloud config in the error, not a manifest', () => {
    expect(() => loadCloudConfig('azs: 3', { fileName: 'cc.yml' })).toThrow(/^The cloud config cc\.yml is invalid \(1 error\)/);
  });
});

describe('diffCloudConfigs', () => {
  it('lists added, removed and changed entries with the changed keys', () => {
    const before = loadCloudConfig('azs: [{name: z1}, {name: z2}]\nvm_types: [{name: small, cloud_properties: {cpus: 1}}]').config;
    const after = loadCloudConfig('azs: [{name: z1}, {name: z3}]\nvm_types: [{name: small, cloud_properties: {cpus: 2}}]').config;
    const diff = diffCloudConfigs(before, after);
    expect(diff.text.split('\n')).toEqual(['+ azs/z3', '- azs/z2', '~ vm_types/small: cloud_properties', '    cloud_properties: {"cpus":1} → {"cpus":2}']);
    expect(diffCloudConfigs(after, after).changes).toEqual([]);
  });
});
