import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCli, type CliHarness } from '../cli/harness.js';

describe('bosun deploy -o -l -v', () => {
  let h: CliHarness;
  beforeAll(async () => {
    h = await startCli();
  });
  afterAll(async () => {
    await h?.close();
  });

  it('renders the manifest on the client, as the BOSH CLI does, and sends the result', async () => {
    const manifest = join(h.dir, 'm.yml');
    await writeFile(manifest, 'name: ((name))\ninstance_groups: []\n');
    const ops = join(h.dir, 'ops.yml');
    await writeFile(ops, '- type: replace\n  path: /update?/canaries\n  value: ((canaries))\n');
    const vars = join(h.dir, 'vars.yml');
    await writeFile(vars, 'canaries: 2\n');
    h.srv.fake.calls.length = 0;
    const res = await h.run('-n', 'deploy', manifest, '-o', ops, '-l', vars, '-v', 'name=demo');
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    const sent = h.srv.fake.calls.find((c) => c.method === 'deploy')?.args[0] as { manifest: string };
    expect(sent.manifest).toBe('name: demo\ninstance_groups: []\nupdate:\n  canaries: 2\n');
  });

  it('names unresolved variables in the user\'s file and sends nothing', async () => {
    const manifest = join(h.dir, 'u.yml');
    await writeFile(manifest, 'name: demo\ninstance_groups:\n  - {name: g, instances: ((n)), containers: []}\n');
    h.srv.fake.calls.length = 0;
    const res = await h.run('-n', 'deploy', manifest, '-v', 'x=1');
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('instance_groups[0].instances (line 3, col 26): unresolved variable ((n))');
    expect(h.srv.fake.calls.some((c) => c.method === 'deploy' || c.method === 'diff')).toBe(false);
  });
});
