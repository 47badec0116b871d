import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unmountAndDetach } from '../../src/director/disks/detach.js';
import { createAgentVmEnv, IMAGES_DIR, type AgentVm, type AgentVmEnv } from '../helpers/agent-vm-fixture.js';
import { VM_PATHS } from '../helpers/in-vm.js';
import { buildSpec } from '../helpers/instance-spec-builder.js';

const exec = promisify(execFile);

describe('agent disks (loop-backed disks of the local cloud)', () => {
  let env: AgentVmEnv;
  let vm: AgentVm;

  beforeAll(async () => {
    env = await createAgentVmEnv();
    vm = await env.createVm();
  }, 120_000);
  afterAll(async () => {
    await env?.cleanup();
  });

  const storeSizeMiB = async (): Promise<number> => {
    const s = await vm.agent.getState({ vitals: true });
    return (s.vitals?.disk.persistent?.totalBytes ?? 0) / 1024 / 1024;
  };
  const store = (): string => VM_PATHS.store;
  const storeMounts = async (): Promise<string[]> =>
    (await readFile(`/proc/${await vm.pid1()}/mountinfo`, 'utf8')).split('\n').filter((l) => l.split(' ')[4] === store());
  const sha256 = async (file: string): Promise<string> => createHash('sha256').update(await readFile(file)).digest('hex');

  it('formats a new disk, keeps its data across unmount/mount, and grows it online after a resize', async () => {
    const diskCid = await env.fx.cloud.createDisk(64, {});
    await vm.agent.mountDisk({ diskCid, hint: await env.fx.cloud.attachDisk(vm.vmCid, diskCid), newDisk: true });
    expect((await vm.agent.runCommand(`echo keep > ${store()}/marker && cat ${store()}/marker`)).stdout.trim()).toBe('keep');
    const before = await storeSizeMiB();
    expect(before).toBeGreaterThan(40);
    expect(before).toBeLessThan(70);
    // Mounting again is idempotent.
    await vm.agent.mountDisk({ diskCid, hint: { path: (await vm.agent.runCommand(`findmnt -n -o SOURCE ${store()}`)).stdout.trim() } });

    await vm.agent.unmountDisk(diskCid);
    expect(await vm.agent.listDisk()).toEqual([]);
    await env.fx.cloud.detachDisk(vm.vmCid, diskCid);
    await env.fx.cloud.resizeDisk(diskCid, 128);
    await vm.agent.mountDisk({ diskCid, hint: await env.fx.cloud.attachDisk(vm.vmCid, diskCid) });
    expect(await vm.agent.listDisk()).toEqual([diskCid]);
    // Not formatted again: the data is there, and the filesystem grew to the new size.
    expect((await vm.agent.runCommand(`cat ${store()}/marker`)).stdout.trim()).toBe('keep');
    expect(await storeSizeMiB()).toBeGreaterThan(110);
  });

  it('the local cloud refuses to detach a disk that is still mounted on the VM', async () => {
    const [diskCid] = await vm.agent.listDisk();
    await expect(env.fx.cloud.detachDisk(vm.vmCid, diskCid ?? '')).rejects.toThrow(/still in use \(mounted on the VM\)/);
    expect(await env.fx.cloud.getDisks(vm.vmCid)).toEqual([diskCid]);
    expect(await vm.agent.listDisk()).toEqual([diskCid]);
    expect((await vm.agent.runCommand(`cat ${store()}/marker`)).stdout.trim()).toBe('keep');
  });

  it('a refused unmount names the containers holding the store and detaches nothing', async () => {
    await vm.loadImage(join(IMAGES_DIR, 'busybox.tar'));
    await vm.agent.apply(buildSpec([{ name: 'user', cmd: ['sleep', '3600'], storeVolumes: ['/data'], stopTimeoutS: 1 }]));
    const [diskCid] = await vm.agent.listDisk();
    await expect(vm.agent.unmountDisk(diskCid ?? '')).rejects.toMatchObject({ code: 'conflict', message: expect.stringMatching(/"user".*Stop the instance/) as unknown });
    await expect(unmountAndDetach(env.fx.cloud, vm.agent, { vmCid: vm.vmCid, name: 'user/0' }, diskCid ?? '', 20_000)).rejects.toThrow(
      /Cannot detach disk .* the agent did not unmount it .*"user".*nothing was detached/,
    );
    expect(await env.fx.cloud.getDisks(vm.vmCid)).toEqual([diskCid]);
    expect(await storeMounts()).toHaveLength(1);
    await vm.agent.stop();
    await unmountAndDetach(env.fx.cloud, vm.agent, { vmCid: vm.vmCid, name: 'user/0' }, diskCid ?? '', 20_000);
    expect(await vm.agent.listDisk()).toEqual([]);
    expect(await env.fx.cloud.getDisks(vm.vmCid)).toEqual([]);
  });

  it('two mount_disk calls for one grown device run one after the other: one mount, a clean filesystem', async () => {
    const diskCid = (await env.fx.cloud.listDiskCids())[0] ?? '';
    await env.fx.cloud.resizeDisk(diskCid, 256);
    const hint = await env.fx.cloud.attachDisk(vm.vmCid, diskCid);
    // Both see an unmounted, grown device: without serialisation both run e2fsck + resize2fs and mount.
    await Promise.all([vm.agent.mountDisk({ diskCid, hint }), vm.agent.mountDisk({ diskCid, hint })]);
    expect(await storeMounts()).toHaveLength(1);
    expect(await storeSizeMiB()).toBeGreaterThan(230);
    await vm.agent.unmountDisk(diskCid);
    await vm.inVm(['e2fsck', '-fn', hint.path]); // throws unless clean
    await env.fx.cloud.detachDisk(vm.vmCid, diskCid);
  });

  it('never formats a disk that may hold data: no filesystem and not new → refused, nothing written', async () => {
    const blank = await env.fx.cloud.createDisk(64, {});
    const blankHint = await env.fx.cloud.attachDisk(vm.vmCid, blank);
    await expect(vm.agent.mountDisk({ diskCid: blank, hint: blankHint })).rejects.toMatchObject({
      code: 'conflict',
      message: expect.stringMatching(/shows no filesystem, but it may hold data .* wrote nothing to it/) as unknown,
    });
    expect((await exec('stat', ['-c', '%b', env.fx.cloud.diskFile(blank)])).stdout.trim()).toBe('0');
    await env.fx.cloud.detachDisk(vm.vmCid, blank);

    // A disk with data whose superblock was damaged.
    const diskCid = (await env.fx.cloud.listDiskCids()).find((c) => c !== blank) ?? '';
    const file = env.fx.cloud.diskFile(diskCid);
    await exec('dd', ['if=/dev/zero', `of=${file}`, 'bs=1024', 'seek=1', 'count=1', 'conv=notrunc']);
    const before = await sha256(file);
    const hint = await env.fx.cloud.attachDisk(vm.vmCid, diskCid);
    await expect(vm.agent.mountDisk({ diskCid, hint })).rejects.toMatchObject({
      code: 'conflict',
      message: expect.stringMatching(/shows no filesystem.*e2fsck -n/) as unknown,
    });
    expect(await vm.agent.listDisk()).toEqual([]);
    await env.fx.cloud.detachDisk(vm.vmCid, diskCid);
    expect(await sha256(file)).toBe(before);
  });

  it('only deleting the VM releases a mounted disk: its loop device is gone and the data mounts elsewhere', async () => {
    const other = await env.createVm();
    const diskCid = await env.fx.cloud.createDisk(64, {});
    await other.agent.mountDisk({ diskCid, hint: await env.fx.cloud.attachDisk(other.vmCid, diskCid), newDisk: true });
    const otherStore = VM_PATHS.store;
    await other.agent.runCommand(`echo moved > ${otherStore}/marker && sync`);
    await expect(env.fx.cloud.detachDisk(other.vmCid, diskCid)).rejects.toThrow(/still in use/);
    await env.fx.cloud.deleteVm(other.vmCid);
    expect((await exec('losetup', ['-j', env.fx.cloud.diskFile(diskCid)])).stdout.trim()).toBe('');
    expect(await env.fx.cloud.findDiskAttachment(diskCid)).toBeNull();
    await vm.agent.mountDisk({ diskCid, hint: await env.fx.cloud.attachDisk(vm.vmCid, diskCid) });
    expect((await vm.agent.runCommand(`cat ${store()}/marker`)).stdout.trim()).toBe('moved');
    await vm.agent.unmountDisk(diskCid);
    await env.fx.cloud.detachDisk(vm.vmCid, diskCid);
  }, 120_000);
});
