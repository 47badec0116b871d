import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { purgeDataDir, readDirectorNetwork } from '../../src/cli/purge.js';
import { dataDirPaths } from '../../src/director/daemon/data-dir.js';
import { createLocalCloudFixture, type LocalCloudFixture } from '../helpers/local-cloud-fixture.js';

const bridgeExists = (name: string): boolean => existsSync(`/sys/class/net/${name}`);

/** `bosun down --purge` deletes the bridge of its own director config and never another (bosun0). */
describe('down --purge and bridges (needs root)', () => {
  let fx: LocalCloudFixture;
  const bosun0Before = bridgeExists('bosun0');

  beforeAll(async () => {
    fx = await createLocalCloudFixture();
  });
  afterAll(async () => {
    await fx?.cleanup();
  });

  it('with no recorded network and no VMs, deletes files only: no bridge is created or deleted', async () => {
    const dataDir = join(fx.dataDir, 'never-started');
    await mkdir(dataDir, { recursive: true });
    const lines: string[] = [];
    await purgeDataDir(dataDir, await readDirectorNetwork(dataDir), (l) => lines.push(l));
    expect(existsSync(dataDir)).toBe(false);
    expect(bridgeExists('bosun0')).toBe(bosun0Before);
    expect(bridgeExists(fx.bridgeName)).toBe(true);
    expect(lines.join('\n')).not.toMatch(/deleted bridge/);
  });

  it('after the director stopped (no state file), deletes the bridge it recorded and not bosun0', async () => {
    const dataDir = join(fx.dataDir, 'stopped');
    await mkdir(dataDir, { recursive: true });
    await writeFile(
      dataDirPaths(dataDir).networkFile,
      JSON.stringify({ bridgeName: fx.bridgeName, subnet: fx.subnet }),
    );
    const lines: string[] = [];
    await purgeDataDir(dataDir, await readDirectorNetwork(dataDir), (l) => lines.push(l));
    expect(lines).toContain(`deleted bridge ${fx.bridgeName}`);
    expect(bridgeExists(fx.bridgeName)).toBe(false);
    expect(bridgeExists('bosun0')).toBe(bosun0Before);
  });
});
