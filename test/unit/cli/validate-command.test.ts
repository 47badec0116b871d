import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { runValidate } from './run-validate.js';

const ROOT = join(import.meta.dirname, '../../..');
const dir = mkdtempSync(join(tmpdir(), 'bosun-validate-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

const run = runValidate;

describe('bosun validate', () => {
  it('exits 0 and prints the summary and the plan for examples/demo.yml', async () => {
    const r = await run('validate', join(ROOT, 'examples/demo.yml'));
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('is valid (native format)');
    expect(r.stdout).toMatch(/Deployment:\s+demo/);
    expect(r.stdout).toMatch(/Containers:\s+3/);
    expect(r.stdout).toMatch(/Disks:\s+1 \(1024 MiB in all\)/);
    expect(r.stdout).toMatch(
      /1\. redis\s+redis:7[\s\S]*2\. notes\s+busybox:latest[\s\S]*3\. web\s+demo\/web:latest-[0-9a-f]{12}/,
    );
  });

  it('exits 1 and lists every error of an invalid manifest', async () => {
    const file = join(ROOT, 'test/fixtures/manifests/invalid/48-many-errors-at-once.yml');
    const r = await run('validate', file);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('(5 errors)');
    expect(r.stderr).toContain('instance_groups[0].containers[0].memory (line 9, col 17):');
    expect(r.stderr).toContain('instance_groups[0].containers[1].privileged (line 15, col 21):');
  });

  it('prints the error shape with --json', async () => {
    const file = join(ROOT, 'test/fixtures/manifests/invalid/07-duplicate-host-port.yml');
    const r = await run('--json', 'validate', file);
    expect(r.code).toBe(1);
    const body = JSON.parse(r.stdout) as {
      error: { code: string; details: { problems: Array<{ path: string; line: number }> } };
    };
    expect(body.error.code).toBe('invalid_manifest');
    expect(body.error.details.problems).toEqual([
      expect.objectContaining({
        path: 'instance_groups[0].containers[1].bind_ports[0]',
        line: 14,
        column: 13,
      }),
    ]);
  });

  it('prints a JSON summary of a valid manifest with --json', async () => {
    const r = await run('--json', 'validate', join(ROOT, 'examples/demo.yml'));
    expect(r.code).toBe(0);
    const body = JSON.parse(r.stdout) as { valid: boolean; summary: { containers: number } };
    expect(body).toMatchObject({
      valid: true,
      summary: { deployment: 'demo', groups: 1, instances: 1, containers: 3, persistentDisks: 1 },
    });
  });

  it('prints a release manifest in the native shape with --print-native', async () => {
    const r = await run(
      'validate',
      '--print-native',
      join(ROOT, 'test/fixtures/manifests/valid/seed-v1-jobs.yml'),
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^name: docker-orchestra$/m);
    expect(r.stdout).toMatch(/^instance_groups:$/m);
    expect(r.stdout).not.toMatch(/^jobs:/m);
    expect(r.stderr).toContain('warning: jobs[1].properties.docker.tcp_address');
  });

  it('exits 1 with an actionable message when the file is missing', async () => {
    const r = await run('validate', join(dir, 'nope.yml'));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('Cannot read the manifest');
  });

  it('reports warnings but still exits 0', async () => {
    const file = join(dir, 'no-disk.yml');
    writeFileSync(
      file,
      'name: t\ninstance_groups:\n  - name: vm\n    instances: 1\n    containers:\n      - name: redis\n        image: redis:7\n        bind_volumes: ["/data"]\n',
    );
    const r = await run('validate', file);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Warnings:\s+1/);
    expect(r.stdout).toContain('warning: instance_groups[0].containers[0].bind_volumes (line 8, col 23)');
  });
});
