import { describe, expect, it } from 'vitest';
import { loadManifest, planDeployment } from '../../../src/manifest/index.js';
import { refusalOf } from './refusal-of.js';

const problemsOf = (text: string): ReturnType<typeof refusalOf> => refusalOf(text, { fileName: 'm.yml' });

const native = (container: string, group = ''): string =>
  `name: t\ninstance_groups:\n  - name: vm\n    instances: 1\n    persistent_disk: 1024\n${group}    containers:\n      - name: app\n        image: busybox\n${container}`;

describe('YAML as BOSH reads it (1.1 rules of the BOSH CLI)', () => {
  it('reads 102_400, yes/no/on/off and octal in the native format', () => {
    const m = loadManifest(
      native('        privileged: yes\n        read_only: off\n        cpu_shares: 1_024\n', '    docker: {debug: on, live_restore: NO}\n'),
    ).manifest;
    const g = m.instance_groups[0];
    expect(g?.containers[0]).toMatchObject({ privileged: true, read_only: false, cpu_shares: 1024 });
    expect(g?.docker).toEqual({ debug: true, live_restore: false });
    expect(loadManifest('name: t\ninstance_groups:\n  - name: vm\n    instances: 1\n    persistent_disk: 102_400\n    containers: []\n').manifest.instance_groups[0]?.persistent_disk).toBe(102400);
  });

  it('reads them in the release format too, and `restart: no` (false) means no restart', () => {
    const loaded = loadManifest(
      'name: r\njobs:\n  - name: d\n    templates: [{name: docker}, {name: containers}]\n    instances: 1\n    persistent_disk: 65_536\n    properties:\n      docker: {debug: yes}\n      containers:\n        - name: app\n          image: busybox\n          restart: no\n          oom_kill_disable: On\n',
    );
    expect(loaded.manifest.instance_groups[0]?.persistent_disk).toBe(65536);
    expect(loaded.manifest.instance_groups[0]?.docker).toEqual({ debug: true });
    const c = planDeployment(loaded.manifest).groups[0]?.instances[0]?.containers[0];
    expect(c?.restartPolicy).toBe('no');
    expect(c?.create.HostConfig.OomKillDisable).toBe(true);
  });

  it('keeps "6379:6379" and dates strings (no base-60 numbers, no timestamps)', () => {
    const m = loadManifest(native('        bind_ports: [22:22]\n        env: {BUILT: 2024-01-02}\n')).manifest;
    expect(m.instance_groups[0]?.containers[0]?.bind_ports).toEqual(['22:22']);
    expect(m.instance_groups[0]?.containers[0]?.env).toEqual({ BUILT: '2024-01-02' });
  });

  it('keeps line and column in errors', () => {
    const err = problemsOf(native('        privileged: maybe\n'));
    expect(err.details.problems[0]).toMatchObject({
      path: 'instance_groups[0].containers[0].privileged',
      line: 9,
      column: 21,
    });
  });

  it('treats null as absent, as BOSH does', () => {
    const m = loadManifest(
      'name: r\njobs:\n  - name: d\n    templates: [{name: docker}, {name: containers}]\n    instances: 1\n    networks:\n      - name: default\n        static_ips:\n    properties:\n      docker:\n      containers:\n        - name: app\n          image: busybox\n          env_vars:\n',
    ).manifest;
    expect(m.instance_groups[0]?.networks).toEqual([{ name: 'default' }]);
    expect(m.instance_groups[0]?.docker).toBeUndefined();
    expect(m.instance_groups[0]?.containers[0]).toEqual({ name: 'app', image: 'busybox' });
  });

  it('accepts BOSH v1 `template:` (a string or a list)', () => {
    for (const t of ['template: containers', 'template: [docker, containers]', 'templates: [docker, containers]']) {
      const m = loadManifest(
        `name: r\njobs:\n  - name: d\n    ${t}\n    instances: 1\n    properties:\n      containers:\n        - {name: app, image: busybox}\n`,
      ).manifest;
      expect(m.instance_groups[0]?.containers.map((c) => c.name)).toEqual(['app']);
    }
  });

  it('refuses a file with several documents in a plain sentence', () => {
    const err = problemsOf('name: a\ninstance_groups: []\n---\nname: b\ninstance_groups: []\n');
    expect(err.details.problems).toEqual([
      expect.objectContaining({ line: 4, column: 1, message: expect.stringContaining('this file holds 2 YAML documents') }),
    ]);
    expect(err.message).not.toMatch(/parseAllDocuments/);
    // A leading "---" is one document.
    expect(loadManifest('---\nname: a\ninstance_groups: []\n').manifest.name).toBe('a');
  });

  it('refuses ERB left in a manifest, at its place', () => {
    const err = problemsOf("<% name = 'x' %>\n---\nname: <%= name %>\ninstance_groups: []\n");
    expect(err.details.problems.map((p) => [p.line, p.column])).toEqual([
      [1, 1],
      [3, 7],
    ]);
    expect(err.details.problems[1]?.message).toContain('unresolved ERB tag "<%= name %>"');
  });
});

describe('limits on bad input', () => {
  it('refuses an absurd instances count as a user error with its place and the bound', () => {
    const err = problemsOf('name: t\ninstance_groups:\n  - name: vm\n    instances: 99999999999\n    containers: []\n');
    expect(err.details.problems).toEqual([
      expect.objectContaining({
        path: 'instance_groups[0].instances',
        line: 4,
        column: 16,
        message: expect.stringContaining('at most 10000 per instance group'),
      }),
    ]);
  });

  it('refuses a YAML alias bomb as a user error with its place', () => {
    const bomb = [
      'a: &a [x, x, x, x, x, x, x, x, x]',
      'b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]',
      'c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]',
      'd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]',
      'e: [*d, *d, *d, *d, *d, *d, *d, *d, *d]',
    ].join('\n');
    const err = problemsOf(`${bomb}\n`);
    expect(err.code).toBe('invalid_manifest');
    expect(err.details.problems[0]).toMatchObject({ line: 2, column: 8 });
    expect(err.details.problems[0]?.message).toContain('alias bomb');
  });
});

describe('ERB-looking text inside values', () => {
  it('is kept in a block or quoted value (e.g. a template file inside a Dockerfile)', () => {
    const m = loadManifest(
      native('        dockerfile: |\n          FROM busybox\n          RUN echo "<%= name %>" > /t.erb\n        env: {T: "<%= x %>"}\n'),
    ).manifest;
    expect(m.instance_groups[0]?.containers[0]?.dockerfile).toContain('<%= name %>');
  });
});
