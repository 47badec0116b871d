import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { purgeDataDir } from '../../../src/cli/purge.js';
import { dataDirPaths } from '../../../src/director/daemon/data-dir.js';
import { Store } from '../../../src/store/store.js';
import { cpiError, createFakeCpi, ok, type FakeCpi } from '../../helpers/fake-cpi-script.js';

let cpi: FakeCpi | undefined;
let dir: string | undefined;
afterEach(async () => {
  cpi?.cleanup();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

/** A stopped director's data dir that ran with an external CPI and recorded 2 VMs, 2 disks and a stemcell. */
async function externalDataDir(answers: Parameters<typeof createFakeCpi>[0], recordConfig = true): Promise<{ dir: string; configFile: string }> {
  dir = await mkdtemp(join(tmpdir(), 'bosun-purge-external-'));
  cpi = createFakeCpi({ info: ok({ api_version: 2, stemcell_formats: ['general-tar'] }), ...answers });
  await mkdir(join(dir, 'ca'));
  await writeFile(join(dir, 'ca', 'ca.pem'), 'cert');
  const configFile = join(dir, 'director.yml');
  await writeFile(configFile, `cloud:\n  type: external\n  cpi: ${process.execPath}\n  cpi_args: ${JSON.stringify(cpi.args)}\n`);
  await writeFile(dataDirPaths(dir).cloudFile, JSON.stringify(recordConfig ? { type: 'external', configFile } : { type: 'external' }));
  const store = await Store.create({ kind: 'sqlite', path: join(dir, 'director.sqlite') });
  await store.vms.create({ cid: 'vm-1', agentId: 'agent-1', instanceId: 'i-1', ip: null });
  await store.vms.create({ cid: 'vm-2', agentId: 'agent-2', instanceId: 'i-2', ip: null });
  await store.disks.create({ cid: 'disk-1', sizeMiB: 100, instanceId: 'i-1', deployment: 'd' });
  await store.disks.create({ cid: 'disk-2', sizeMiB: 100, instanceId: 'i-2', deployment: 'd' });
  await store.disks.orphan('disk-2');
  await store.stemcells.create({ name: 'bosun-debian-12', version: '1', operatingSystem: 'debian-12', apiVersion: 3, formats: ['general-tar'], sha1: 'a'.repeat(40), cid: 'sc-1' });
  await store.close();
  return { dir, configFile };
}

const deleted = (): string[] => cpi!.requests().filter((r) => r.method.startsWith('delete_')).map((r) => `${r.method} ${String(r.arguments[0])}`);

describe('bosun down --purge with an external CPI', () => {
  it('deletes every recorded VM, then the disks (orphans too) and stemcells through the CPI, then the data dir', async () => {
    const { dir } = await externalDataDir({ delete_vm: ok(null), delete_disk: ok(null), delete_stemcell: ok(null) });
    const lines: string[] = [];
    await purgeDataDir(dir, null, (l) => lines.push(l));
    expect(deleted()).toEqual(['delete_vm vm-1', 'delete_vm vm-2', 'delete_disk disk-1', 'delete_disk disk-2', 'delete_stemcell sc-1']);
    expect(lines[0]).toMatch(/deleting 2 VMs, 2 disks and 1 stemcells through the CPI/);
    expect(existsSync(dir)).toBe(false);
  });

  it('counts what the cloud no longer has as deleted, and keeps the data dir when the CPI fails, so that a second run retries', async () => {
    const { dir } = await externalDataDir({
      delete_vm: cpiError('Bosh::Clouds::VMNotFound', 'no such VM'),
      delete_disk: cpiError('CloudError', 'disk is busy', true),
      delete_stemcell: ok(null),
    });
    const err = await purgeDataDir(dir, null, () => undefined).then(() => null, (e: unknown) => e as Error);
    expect(err?.message).toMatch(/could not delete 2 of the director's cloud objects \(disk disk-1: .*disk is busy.*\).* is kept.*run `bosun down --purge` again/);
    expect(existsSync(join(dir, 'director.sqlite'))).toBe(true);

    cpi!.setAnswers({ info: ok({ api_version: 2 }), delete_vm: ok(null), delete_disk: ok(null), delete_stemcell: ok(null) });
    await purgeDataDir(dir, null, () => undefined);
    expect(existsSync(dir)).toBe(false);
  });

  it('deletes nothing when the config it ran with is unknown, and says how to give it', async () => {
    const { dir, configFile } = await externalDataDir({ delete_vm: ok(null), delete_disk: ok(null), delete_stemcell: ok(null) }, false);
    const err = await purgeDataDir(dir, null, () => undefined).then(() => null, (e: unknown) => e as Error);
    expect(err?.message).toMatch(/no director config file was recorded; nothing was deleted\. .*--director-config FILE/);
    expect(existsSync(dir)).toBe(true);
    await purgeDataDir(dir, null, () => undefined, { directorConfig: configFile });
    expect(deleted()).toContain('delete_vm vm-1');
    expect(existsSync(dir)).toBe(false);
  });
});
