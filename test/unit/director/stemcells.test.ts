import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestDirector, deployAndWait, type TestDirector } from '../../helpers/director-fixtures.js';
import { makeStemcellTarball } from '../../helpers/stemcell-tarball-fixture.js';

describe('stemcells on the director', () => {
  let dir: string;
  let t: TestDirector;
  beforeEach(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'bosun-stemcells-'));
    t = await createTestDirector({ config: { dataDir: dir }, stemcell: false });
  });
  afterEach(async () => {
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** The upload route hands over a copy that the task then owns (and removes). */
  async function upload(file: string) {
    const copy = path.join(dir, `upload-${Math.random().toString(36).slice(2)}.tgz`);
    copyFileSync(file, copy);
    const task = await t.director.uploadStemcell(copy, 'admin');
    const done = await t.director.tasks.wait(task.id);
    expect(existsSync(copy)).toBe(false);
    return done;
  }

  it('uploads a stemcell once per name and version, giving the cloud its image', async () => {
    const file = makeStemcellTarball(dir, { version: '0.1.0-1' });
    const first = await upload(file);
    expect(first.state).toBe('done');
    const again = await upload(file);
    expect(again.state).toBe('done');
    expect(again.result).toContain('alreadyUploaded');
    expect(t.cloud.callsOf('createStemcell')).toHaveLength(1);
    const list = await t.director.listStemcells();
    expect(list).toEqual([
      expect.objectContaining({ name: 'bosun-debian-12', version: '0.1.0-1', operatingSystem: 'debian-12', formats: ['general-tar', 'warden-tar'], cid: 'sc-fake-1', vms: [] }),
    ]);
  });

  it('refuses an image that does not match the sha1 in stemcell.MF, before the cloud sees it', async () => {
    const done = await upload(makeStemcellTarball(dir, { version: '0.1.0-2', corruptSha1: true }));
    expect(done.state).toBe('error');
    expect(done.error).toMatch(/does not match its stemcell\.MF/);
    expect(t.cloud.callsOf('createStemcell')).toHaveLength(0);
    expect(await t.director.listStemcells()).toEqual([]);
  });

  it('refuses to delete a stemcell while a VM boots it, naming the VM; deletes it afterwards', async () => {
    await upload(makeStemcellTarball(dir, { version: '0.1.0-1' }));
    const [stemcell] = await t.director.listStemcells();
    await t.director.store.vms.create({ cid: 'vm-1', agentId: 'agent-1', instanceId: 'i-1', ip: null });
    await t.director.store.stemcells.setVmStemcell('vm-1', stemcell!.cid);
    expect((await t.director.listStemcells())[0]?.vms).toEqual(['vm-1']);
    await expect(t.director.deleteStemcell('bosun-debian-12', '0.1.0-1', 'admin')).rejects.toThrow(/in use by 1 VM \(vm-1\)/);
    await t.director.store.vms.delete('vm-1');
    const task = await t.director.deleteStemcell('bosun-debian-12', '0.1.0-1', 'admin');
    expect((await t.director.tasks.wait(task.id)).state).toBe('done');
    expect(t.cloud.callsOf('deleteStemcell')).toEqual([[stemcell!.cid]]);
    expect(await t.director.listStemcells()).toEqual([]);
  });

  it('resolves os + version (or latest) to an uploaded stemcell, and says how to upload a missing one', async () => {
    await upload(makeStemcellTarball(dir, { version: '0.1.0-9' }));
    await upload(makeStemcellTarball(dir, { version: '0.1.0-10' }));
    expect((await t.director.stemcells.resolve('debian-12', 'latest')).version).toBe('0.1.0-10');
    expect((await t.director.stemcells.resolve('debian-12', '0.1.0-9')).version).toBe('0.1.0-9');
    await expect(t.director.stemcells.resolve('debian-12', '7')).rejects.toThrow(
      /No stemcell of OS debian-12 with version 7 is uploaded \(uploaded: bosun-debian-12\/0\.1\.0-9, bosun-debian-12\/0\.1\.0-10\); upload it with `bosun upload-stemcell stemcells\/bosun-debian-12-7\.tgz`/,
    );
    await expect(t.director.deleteStemcell('bosun-debian-12', 'nope', 'admin')).rejects.toThrow(/no stemcell bosun-debian-12\/nope/);
  });
});

describe('VMs boot the uploaded stemcell the manifest names', () => {
  let dir: string;
  let t: TestDirector;
  afterEach(async () => {
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('an uploaded stemcell: its cid goes to createVm, and the VM counts as its user', async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'bosun-stemcells-'));
    t = await createTestDirector({ config: { dataDir: dir }, stemcell: false });
    const copy = path.join(dir, 'up.tgz');
    copyFileSync(makeStemcellTarball(dir, { version: '0.1.0-3' }), copy);
    await t.director.tasks.wait((await t.director.uploadStemcell(copy, 'admin')).id);
    const [stemcell] = await t.director.listStemcells();
    const done = await deployAndWait(t.director, { name: 'demo', groups: [{ name: 'web', instances: 1, containers: [{ name: 'c', image: 'busybox' }] }] });
    expect(done.state, done.error ?? '').toBe('done');
    const createCalls = t.cloud.callsOf('createVm') as Array<[{ stemcell: string }]>;
    expect(createCalls.map(([r]) => r.stemcell)).toEqual([stemcell!.cid]);
    const [listed] = await t.director.listStemcells();
    expect(listed?.vms).toHaveLength(1);
    await expect(t.director.deleteStemcell(stemcell!.name, stemcell!.version, 'admin')).rejects.toThrow(/in use by 1 VM/);
  });
});
