import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runValidate } from '../cli/run-validate.js';

const dir = mkdtempSync(join(tmpdir(), 'bosun-validate-flags-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const run = runValidate;

function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

const MANIFEST = file(
  'm.yml',
  [
    'name: flags',
    'instance_groups:',
    '- name: docker',
    '  instances: ((n))',
    '  jobs:',
    '  - name: containers',
    '    properties:',
    '      containers:',
    '      - {name: app, image: busybox, env_vars: ["TOKEN=((token))"], volumes: ["/etc/ssl:/ssl"]}',
    '',
  ].join('\n'),
);

describe('bosun validate -o -l -v', () => {
  it('applies ops files and variables and validates the result', async () => {
    const ops = file('ops.yml', '- type: replace\n  path: /instance_groups/name=docker/persistent_disk?\n  value: 2048\n');
    const vars = file('vars.yml', 'token: abc\nn: 5\n');
    const r = await run('validate', MANIFEST, '-o', ops, '-l', vars, '-v', 'n=2', '--allow-host-path', '/etc/ssl');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Instances:\s+2/);
    expect(r.stdout).toMatch(/Disks:\s+2 \(4096 MiB in all\)/);
  });

  it('exits 1 naming the unresolved variables and the host path the policy refuses', async () => {
    const r = await run('validate', MANIFEST, '-v', 'n=1');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('env_vars[0] (line 9, col');
    expect(r.stderr).toContain('unresolved variable ((token))');
    expect(r.stderr).toContain('allowed_host_paths');
  });

  it('exits 1 with the place in the ops file', async () => {
    const ops = file('bad-ops.yml', '- type: replace\n  path: /instance_groups/name=nope/instances\n  value: 1\n');
    const r = await run('validate', MANIFEST, '-o', ops);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`(${ops} line 2, col 9): replace "/instance_groups/name=nope/instances"`);
  });

  it('exits 1, not 2, for an absurd instances count and for an alias bomb', async () => {
    const many = await run('validate', MANIFEST, '-v', 'n=99999999999', '-v', 'token=x', '--allow-host-path', '/etc');
    expect(many.code).toBe(1);
    expect(many.stderr).toContain('instance_groups[0].instances (line 4, col 14): instances must be at most 10000');
    const bomb = file('bomb.yml', 'a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n');
    const r = await run('validate', bomb);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('(line 2, col 8)');
    expect(r.stderr).toContain('alias bomb');
  });
});
