import { describe, expect, it } from 'vitest';
import { loadManifest, renderManifest, type LoadOptions } from '../../../src/manifest/index.js';
import { refusalOf } from './refusal-of.js';

const BASE = [
  'name: ops-test',
  'instance_groups:',
  '- name: docker',
  '  instances: ((count))',
  '  persistent_disk: 65536',
  '  jobs:',
  '  - name: docker',
  '    properties:',
  '      tcp_address: 0.0.0.0',
  '      tls_cert: ((docker-tls.certificate))',
  '  - name: containers',
  '    properties:',
  '      containers:',
  '      - name: db',
  '        image: postgres:16',
  '        env_vars: ["POSTGRES_PASSWORD=((db-password))", "URL=postgres://db:((port))/app"]',
  'variables:',
  '- {name: db-password, type: password}',
  '',
].join('\n');

const errorsOf = refusalOf;

describe('variables (-v, -l)', () => {
  it('fills whole values with their type and parts of strings with their text', () => {
    const loaded = loadManifest(BASE, {
      vars: ['count=2', 'port=5432'],
      varsFiles: [{ fileName: 'vars.yml', text: 'db-password: "s3cret,with=comma"\ncount: 9\n' }],
    });
    const g = loaded.manifest.instance_groups[0];
    // -v wins over -l; "count" is a number, not the text "2".
    expect(g?.instances).toBe(2);
    expect(g?.containers[0]?.env_vars).toEqual(['POSTGRES_PASSWORD=s3cret,with=comma', 'URL=postgres://db:5432/app']);
  });

  it('names each unresolved variable at its place, and ignores those in properties bosun ignores', () => {
    const err = errorsOf(BASE, { vars: ['count=1'] });
    const problems = err.details.problems.filter((p) => p.severity === 'error');
    expect(problems.map((p) => `${p.path} (line ${p.line}): ${p.message}`)).toEqual([
      expect.stringMatching(
        /^instance_groups\[0\]\.jobs\[1\]\.properties\.containers\[0\]\.env_vars\[0\] \(line 16\): unresolved variable \(\(db-password\)\) \(the manifest's variables: declares it with type password.*-v db-password=VALUE/,
      ),
      expect.stringMatching(/env_vars\[1\] \(line 16\): unresolved variable \(\(port\)\)/),
    ]);
    // The tls_cert placeholder sits in a property bosun ignores: a warning about the property, no variable error.
    expect(err.message).not.toContain('docker-tls');
  });

  it('reports an unresolved variable instead of a type error', () => {
    const err = errorsOf(BASE, { vars: ['db-password=x', 'port=1'] });
    expect(err.details.problems.filter((p) => p.severity === 'error')).toEqual([
      expect.objectContaining({ path: 'instance_groups[0].instances', line: 4, message: expect.stringContaining('unresolved variable ((count))') }),
    ]);
  });

  it('reads map variables with ((name.key)) and refuses a map inside a string', () => {
    const text = 'name: ((meta.name))\ninstance_groups: []\nx: "a-((meta))"\n';
    const err = errorsOf(text, { varsFiles: [{ fileName: 'v.yml', text: 'meta: {name: demo}\n' }] });
    expect(err.details.problems).toEqual([
      expect.objectContaining({ line: 3, message: expect.stringContaining('variable ((meta)) is a map or a list') }),
    ]);
    expect(loadManifest('name: ((meta.name))\ninstance_groups: []\n', { varsFiles: [{ fileName: 'v.yml', text: 'meta: {name: demo}\n' }] }).manifest.name).toBe('demo');
  });

  it('refuses a malformed -v', () => {
    expect(errorsOf('name: a\ninstance_groups: []\n', { vars: ['novalue'] }).message).toContain('-v takes NAME=VALUE');
  });
});

describe('ops files (-o)', () => {
  const OPS = [
    '- type: replace',
    '  path: /instance_groups/name=docker/jobs/name=docker/properties/tcp_address',
    '  value: 127.0.0.1',
    '- type: remove',
    '  path: /instance_groups/name=docker/jobs/name=docker/properties/tls_cert',
    '- type: replace',
    '  path: /instance_groups/name=docker?/persistent_disk',
    '  value: 1024',
    '- type: replace',
    '  path: /instance_groups/name=docker/jobs/name=containers/properties/containers/-',
    '  value: {name: cache, image: "redis:7", memory: lots}',
    '- type: replace',
    '  path: /instance_groups/name=docker/jobs/name=containers/properties/containers/name=db:before',
    '  value: {name: first, image: busybox}',
    '- type: remove',
    '  path: /variables?/name=none?',
    '',
  ].join('\n');

  it('applies replace and remove with the BOSH path syntax, and locates an inserted value in the ops file', () => {
    const opts: LoadOptions = { opsFiles: [{ fileName: 'ops.yml', text: OPS }], vars: ['count=1', 'db-password=p', 'port=1'] };
    const err = errorsOf(BASE, opts);
    expect(err.details.problems.filter((p) => p.severity === 'error')).toEqual([
      expect.objectContaining({ file: 'ops.yml', line: 11, path: 'instance_groups[0].jobs[1].properties.containers[2].memory' }),
    ]);
    expect(err.message).toContain('(ops.yml line 11, col');
    const fixed = OPS.replace('memory: lots', 'memory: 64m');
    const loaded = loadManifest(BASE, { ...opts, opsFiles: [{ fileName: 'ops.yml', text: fixed }] });
    const g = loaded.manifest.instance_groups[0];
    expect(g?.persistent_disk).toBe(1024);
    expect(g?.containers.map((c) => c.name)).toEqual(['first', 'db', 'cache']);
    expect(loaded.warnings.map((w) => w.path)).toEqual(['instance_groups[0].jobs[0].properties.tcp_address']);
    // What `bosun deploy -o` sends: the rendered text, which loads to the same manifest.
    const rendered = renderManifest(BASE, { ...opts, opsFiles: [{ fileName: 'ops.yml', text: fixed }] });
    expect(rendered).toContain('name: cache');
    expect(loadManifest(rendered).manifest).toEqual(loaded.manifest);
  });

  it('refuses an op whose path does not exist, in the ops file, with the keys it found', () => {
    const err = errorsOf(BASE, {
      opsFiles: [{ fileName: 'ops.yml', text: '- type: replace\n  path: /instance_group/0/instances\n  value: 2\n- type: upsert\n  path: /x\n' }],
    });
    expect(err.details.problems.map((p) => `${p.file} ${p.line}:${p.column} ${p.message}`)).toEqual([
      expect.stringMatching(/^ops\.yml 2:9 replace "\/instance_group\/0\/instances": expected to find a map key "instance_group" .*"instance_groups"/),
      expect.stringMatching(/^ops\.yml 4:9 op 2: type must be "replace" or "remove"/),
    ]);
  });

  it('refuses a path that matches several items or an index out of range', () => {
    const text = 'name: a\ninstance_groups: [{name: x}, {name: x}]\n';
    const run = (path: string) =>
      errorsOf(text, { opsFiles: [{ fileName: 'o.yml', text: `- type: remove\n  path: ${path}\n` }] }).details.problems[0]?.message;
    expect(run('/instance_groups/name=x')).toContain('exactly one matching list item');
    expect(run('/instance_groups/5')).toContain('list index 5');
  });
});

describe('alias bombs in ops and vars files', () => {
  const bomb = [
    'a: &a [x, x, x, x, x, x, x, x, x, x]',
    'b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]',
    'c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]',
    'big: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]',
  ].join('\n');

  it('are user errors located in their file', () => {
    const vars = errorsOf('name: ((big))\ninstance_groups: []\n', { varsFiles: [{ fileName: 'v.yml', text: `${bomb}\n` }] });
    expect(vars.details.problems).toEqual([expect.objectContaining({ file: 'v.yml', line: 4, message: expect.stringContaining('alias bomb') })]);
    const ops = errorsOf('name: a\ninstance_groups: []\n', {
      opsFiles: [{ fileName: 'o.yml', text: `- type: replace\n  path: /x\n  value:\n    ${bomb.split('\n').join('\n    ')}\n` }],
    });
    expect(ops.details.problems).toEqual([expect.objectContaining({ file: 'o.yml', message: expect.stringContaining('alias bomb') })]);
  });
});
