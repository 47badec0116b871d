import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ExternalCloud } from '../../../src/cloud/external/index.js';
import { RecordedAttachmentsCloud } from '../../../src/cloud/recorded-attachments.js';
import { FakeCloud } from '../../../src/cloud/fake/fake-cloud.js';
import { resolveDirectorConfig } from '../../../src/director/config.js';
import { loadDaemonConfig } from '../../../src/director/daemon/daemon-config.js';
import { cloudDriver } from '../../../src/director/director-wiring.js';
import { Store } from '../../../src/store/store.js';

let dir = '';
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function load(yaml: string) {
  dir = mkdtempSync(join(tmpdir(), 'bosun-cloud-config-'));
  const file = join(dir, 'director.yml');
  writeFileSync(file, yaml);
  return loadDaemonConfig({ dataDir: dir, configFile: file });
}

describe('director config: cloud', () => {
  it('defaults to the local cloud and reads an external CPI with its args, properties and timeouts', async () => {
    expect((await load('name: d\n')).cloud).toEqual({ type: 'local' });
    const c = await load(
      'cloud:\n  type: external\n  cpi: /opt/cpi/bin/cpi\n  cpi_args: [-configPath, /etc/cpi.json]\n  properties: {host: h1, password: p}\n  timeouts: {create_vm: 10m}\n  trust_get_disks: false\n',
    );
    expect(c.cloud).toEqual({
      type: 'external',
      cpi: '/opt/cpi/bin/cpi',
      cpiArgs: ['-configPath', '/etc/cpi.json'],
      properties: { host: 'h1', password: 'p' },
      timeoutsMs: { create_vm: 600_000 },
      resizeInPlace: true,
      trustGetDisks: false,
    });
  });

  it('says what to fix', async () => {
    await expect(load('cloud: {type: external}\n')).rejects.toThrow(/cloud.cpi must be the absolute path of the CPI executable when cloud.type is external/);
    await expect(load('cloud: {type: external, cpi: bin/cpi}\n')).rejects.toThrow(/cloud.cpi must be the absolute path/);
    await expect(load('cloud: {type: local, cpi: /x}\n')).rejects.toThrow(/cloud.cpi only apply to cloud.type external/);
    await expect(load('cloud: {type: aws}\n')).rejects.toThrow(/cloud.type: must be "local" or "external"/);
    await expect(load('cloud: {type: external, cpi: /x, timeouts: {create_vm: soon}}\n')).rejects.toThrow(/cloud.timeouts.create_vm/);
  });

  it('an untrusted get_disks puts the director\'s records in front of the CPI; an external CPI learns the director uuid', async () => {
    const store = await Store.create({ kind: 'sqlite', path: ':memory:' });
    const base = { dataDir: '/tmp/x', directorUrl: 'https://127.0.0.1:1' };
    const fake = new FakeCloud();
    try {
      expect(cloudDriver(fake, resolveDirectorConfig(base), store, 'u')).toBe(fake);
      expect(cloudDriver(fake, resolveDirectorConfig({ ...base, cloudGetDisksTrusted: false }), store, 'u')).toBeInstanceOf(RecordedAttachmentsCloud);
      const external = new ExternalCloud({ cpi: '/bin/true' });
      cloudDriver(external, resolveDirectorConfig(base), store, 'uuid-42');
      expect(external.config.directorUuid).toBe('uuid-42');
    } finally {
      fake.shutdown();
      await store.close();
    }
  });
});

describe('the stemcell api_version reaches the cloud', () => {
  it('createVm carries the api_version of the stemcell the VM boots (an external CPI puts it in its context)', async () => {
    const { createTestDirector, deployAndWait } = await import('../../helpers/director-fixtures.js');
    dir = mkdtempSync(join(tmpdir(), 'bosun-stemcell-api-'));
    const t = await createTestDirector({ config: { dataDir: dir } });
    try {
      const done = await deployAndWait(t.director, { name: 'demo', groups: [{ name: 'web', instances: 1, containers: [{ name: 'c', image: 'busybox' }] }] });
      expect(done.state, done.error ?? '').toBe('done');
      const [stemcell] = await t.director.listStemcells();
      const calls = t.cloud.callsOf('createVm') as Array<[{ stemcellApiVersion?: number }]>;
      expect(calls.map(([r]) => r.stemcellApiVersion)).toEqual([stemcell?.apiVersion]);
      expect(stemcell?.apiVersion).toBeGreaterThan(0);
    } finally {
      await t.close();
    }
  });
});
