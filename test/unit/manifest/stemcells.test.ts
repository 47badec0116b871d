import { describe, expect, it } from 'vitest';
import { formatManifestProblem } from '../../../src/common/errors.js';
import { DEFAULT_STEMCELL, loadManifest, planDeployment } from '../../../src/manifest/index.js';
import { refusalOf } from './refusal-of.js';

const group = (name: string, extra = ''): string => `  - name: ${name}\n    instances: 1\n${extra}    containers: [{name: c1, image: busybox}]\n`;

function stemcellsOf(text: string) {
  return planDeployment(loadManifest(text).manifest).groups.map((g) => g.stemcell);
}

function errorsOf(text: string): string[] {
  return refusalOf(text).details.problems.filter((p) => p.severity === 'error').map(formatManifestProblem);
}

describe('stemcells in the manifest (BOSH v2)', () => {
  it('gives each group the stemcell its alias names: by os or by name, latest or a version', () => {
    const text =
      'name: t\nstemcells:\n  - {alias: default, os: debian-12, version: latest}\n  - {alias: pinned, name: bosun-debian-12, version: 0.1.0-A}\ninstance_groups:\n' +
      group('a', '    stemcell: default\n') +
      group('b', '    stemcell: pinned\n');
    expect(stemcellsOf(text)).toEqual([
      { alias: 'default', os: 'debian-12', name: null, version: 'latest' },
      { alias: 'pinned', os: null, name: 'bosun-debian-12', version: '0.1.0-A' },
    ]);
  });

  it('lets a group leave stemcell out when the manifest has exactly one', () => {
    const text = 'name: t\nstemcells: [{alias: only, os: debian-12, version: "12"}]\ninstance_groups:\n' + group('a');
    expect(stemcellsOf(text)).toEqual([{ alias: 'only', os: 'debian-12', name: null, version: '12' }]);
  });

  it('without stemcells, every group boots the newest uploaded debian-12 stemcell', () => {
    expect(stemcellsOf('name: t\ninstance_groups:\n' + group('a'))).toEqual([DEFAULT_STEMCELL]);
    expect(DEFAULT_STEMCELL).toEqual({ alias: null, os: 'debian-12', name: null, version: 'latest' });
  });

  it('refuses an unknown alias, with its place and the aliases there are', () => {
    const text = 'name: t\nstemcells:\n  - {alias: default, os: debian-12, version: latest}\ninstance_groups:\n' + group('a', '    stemcell: defualt\n');
    expect(errorsOf(text)).toEqual([
      'instance_groups[0].stemcell (line 7, col 15): instance group "a" names stemcell "defualt", which is not an alias of the manifest\'s stemcells ("default")',
    ]);
  });

  it('refuses a group alias when the manifest has no stemcells, saying what to add', () => {
    const errors = errorsOf('name: t\ninstance_groups:\n' + group('a', '    stemcell: default\n'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^instance_groups\[0\]\.stemcell \(line 5, col 15\): .*the manifest has no stemcells; add stemcells: \[\{alias: default, os: debian-12, version: latest\}\]/);
  });

  it('refuses a group without stemcell when the manifest has several', () => {
    const text =
      'name: t\nstemcells:\n  - {alias: a, os: debian-12, version: latest}\n  - {alias: b, os: debian-12, version: "1"}\ninstance_groups:\n' + group('web');
    expect(errorsOf(text)).toEqual([
      'instance_groups[0] (line 6, col 5): instance group "web" names no stemcell and the manifest has 2 ("a", "b"); add stemcell: ALIAS to the group',
    ]);
  });

  it('refuses duplicate aliases, a stemcell with neither or both of os and name, an unknown key, and a float version', () => {
    const text =
      'name: t\nstemcells:\n  - {alias: a, os: debian-12, version: latest}\n  - {alias: a, name: x, os: debian-12, version: latest}\n  - {alias: c, version: latest}\n  - {alias: d, os: debian-12, version: 3.10}\n  - {alias: e, os: debian-12, version: latest, sha1: x}\ninstance_groups:\n' +
      group('web', '    stemcell: c\n');
    const errors = errorsOf(text).join('\n');
    expect(errors).toContain('stemcells[1].alias (line 4, col 13): duplicate stemcell alias "a"; stemcells[0] already uses it');
    expect(errors).toContain('stemcells[1].name (line 4, col 22): stemcell "a" gives both os and name; keep one');
    expect(errors).toContain('stemcells[2] (line 5, col 5): stemcell "c" names neither os nor name; write e.g. os: debian-12');
    expect(errors).toMatch(/stemcells\[3\]\.version \(line 6, col \d+\): write the version 3\.1 in quotes/);
    expect(errors).toMatch(/stemcells\[4\]\.sha1 .*unknown key/i);
  });
});

describe('stemcells of docker BOSH release manifests', () => {
  it('v1: a resource pool\'s stemcell {name, version} becomes a stemcell aliased by the pool, named by its groups', () => {
    const text = [
      'name: v1',
      'resource_pools:',
      '  - name: small',
      '    stemcell: {name: bosun-debian-12, version: 0.1.0-A}',
      'jobs:',
      '  - name: docker',
      '    templates: [{name: docker}, {name: containers}]',
      '    instances: 1',
      '    resource_pool: small',
      '    properties:',
      '      containers: [{name: c1, image: busybox}]',
      '',
    ].join('\n');
    const loaded = loadManifest(text);
    expect(loaded.manifest.stemcells).toEqual([{ alias: 'small', name: 'bosun-debian-12', version: '0.1.0-A' }]);
    expect(planDeployment(loaded.manifest).groups[0]?.stemcell).toEqual({ alias: 'small', os: null, name: 'bosun-debian-12', version: '0.1.0-A' });
  });

  it('v2: stemcells and a group\'s stemcell are kept as they are, and an unknown alias is located in the user\'s file', () => {
    const text = [
      'name: v2',
      'stemcells: [{alias: default, os: debian-12, version: latest}]',
      'instance_groups:',
      '  - name: docker',
      '    instances: 1',
      '    stemcell: other',
      '    jobs:',
      '      - {name: docker, release: docker}',
      '      - {name: containers, release: docker, properties: {containers: [{name: c1, image: busybox}]}}',
      '',
    ].join('\n');
    expect(errorsOf(text)).toEqual([
      'instance_groups[0].stemcell (line 6, col 15): instance group "docker" names stemcell "other", which is not an alias of the manifest\'s stemcells ("default")',
    ]);
  });
});
