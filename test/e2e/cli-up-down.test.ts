import { existsSync } from 'node:fs';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processContext, type CliContext } from '../../src/cli/context.js';
import { dataDirPaths } from '../../src/director/daemon/data-dir.js';
import { createLocalCloudFixture, type LocalCloudFixture } from '../helpers/local-cloud-fixture.js';
import { runCli } from '../unit/cli/harness.js';
import { assertDirectorE2ePrerequisites } from '../helpers/director-fixture.js';
import { freePort } from '../helpers/free-port.js';
import { builtStemcellFile } from '../helpers/built-stemcell.js';


/**
 * `bosun up`, `status`, `down --purge` for real: a detached director (the built CLI) with the local
 * cloud on a test bridge and its registry, in a temp data dir.
 */
describe('bosun up / status / down (needs root and `npm run build`)', () => {
  let fx: LocalCloudFixture;
  let context: CliContext;
  let dataDir: string;
  let pid: number | null = null;
  let port: number;

  beforeAll(async () => {
    assertDirectorE2ePrerequisites();
    fx = await createLocalCloudFixture();
    dataDir = join(fx.dataDir, 'director');
    port = await freePort();
    const registryPort = await freePort();
    await writeFile(
      join(fx.dataDir, 'director.yml'),
      `bridge: ${fx.bridgeName}\nsubnet: ${fx.subnet}\nregistry_port: ${registryPort}\n`,
    );
    context = {
      ...processContext(),
      env: { PATH: process.env['PATH'], BOSUN_CONFIG: join(fx.dataDir, 'cli-config') },
    };
  });

  afterAll(async () => {
    if (pid !== null) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await runCli(context, ['down', '--data-dir', dataDir, '--purge']).catch(() => undefined);
    await fx?.cleanup();
  });

  it('starts the director in the background and targets it; a second up says it is up', async () => {
    const up = await runCli(context, [
      'up',
      '--data-dir',
      dataDir,
      '--listen',
      `127.0.0.1:${port}`,
      '--director-config',
      join(fx.dataDir, 'director.yml'),
    ]);
    pid = Number((await readFile(dataDirPaths(dataDir).pidFile, 'utf8').catch(() => '0')).trim()) || null;
    expect(up.stderr).toBe('');
    expect(up.code).toBe(0);
    expect(up.stdout).toContain(`bosun director is up at https://127.0.0.1:${port}`);
    // A new director gets the stemcell setup built (the newest in stemcells/).
    expect(up.stdout).toContain(`The director has no stemcell: uploading ${builtStemcellFile()}`);
    const stemcells = JSON.parse((await runCli(context, ['--json', 'stemcells'])).stdout) as Array<{ name: string; version: string }>;
    expect(stemcells.map((x) => `${x.name}-${x.version}.tgz`)).toEqual([basename(builtStemcellFile())]);
    expect((await stat(join(fx.dataDir, 'cli-config'))).mode & 0o777).toBe(0o600);
    expect((await stat(dataDirPaths(dataDir).adminToken)).mode & 0o777).toBe(0o600);
    const token = (await readFile(dataDirPaths(dataDir).adminToken, 'utf8')).trim();
    expect(await readFile(dataDirPaths(dataDir).logFile, 'utf8')).not.toContain(token);

    const again = await runCli(context, ['up', '--data-dir', dataDir, '--listen', `127.0.0.1:${port}`]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('already up');
    expect(again.stdout).not.toContain('uploading');
    expect(JSON.parse((await runCli(context, ['--json', 'stemcells'])).stdout)).toHaveLength(1);
  });

  it('reports its status and serves the API', async () => {
    const status = await runCli(context, ['--json', 'status']);
    expect(status.code).toBe(0);
    const doc = JSON.parse(status.stdout) as {
      up: boolean;
      cloud: string;
      registry: string;
      deployments: number;
    };
    expect(doc).toMatchObject({ up: true, cloud: 'local', deployments: 0, dataDir });
    // The registry serves on the bridge address, where the VMs reach it.
    expect(doc.registry).toMatch(new RegExp(`^${fx.hostIp.replace(/\./g, '\\.')}:\\d+$`));
    const deployments = await runCli(context, ['--json', 'deployments']);
    expect(JSON.parse(deployments.stdout)).toEqual([]);
  });

  it('stops with down --purge (the targeted director: no --data-dir) and removes the data dir', async () => {
    const down = await runCli(context, ['down', '--purge']);
    expect(down.code).toBe(0);
    expect(down.stdout).toMatch(/bosun director \(pid \d+\) stopped/);
    expect(existsSync(dataDir)).toBe(false);
    if (pid !== null) expect(() => process.kill(pid as number, 0)).toThrow();
    const status = await runCli(context, ['status']);
    expect(status.code).toBe(1);
    expect(status.stdout).toContain('director: down');
  });
});
