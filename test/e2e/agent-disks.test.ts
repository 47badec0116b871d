import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAgentVmEnv, IMAGES_DIR, type AgentVm, type AgentVmEnv } from '../helpers/agent-vm-fixture.js';
import { buildSpec } from '../helpers/instance-spec-builder.js';

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

  it('formats a new disk, keeps its data across unmount/mount, and grows it online after a resize', async () => {
    const diskCid = await env.fx.cloud.createDisk(64, {});
    await vm.agent.mountDisk({ diskCid, hint: await env.fx.cloud.attachDisk(vm.vmCid, diskCid) });
    const store = join(env.fx.cloud.vmDir(vm.vmCid), 'store');
    expect((await vm.agent.runCommand(`echo keep > ${store}/marker && cat ${store}/marker`)).stdout.trim()).toBe('keep');
    const before = await storeSizeMiB();
    expect(before).toBeGreaterThan(40);
    expect(before).toBeLessThan(70);
    // Mounting again is idempotent.
    await vm.agent.mountDisk({ diskCid, hint: { path: (await vm.agent.runCommand(`findmnt -n -o SOURCE ${store}`)).stdout.trim() } });

    await vm.agent.unmountDisk(diskCid);
    expect(await vm.agent.listDisk()).toEqual([]);
    await env.fx.cloud.detachDisk(vm.vmCid, diskCid);
    await env.fx.cloud.resizeDisk(diskCid, 128);
    await vm.agent.mountDisk({ diskCid, hint: await env.fx.cloud.attachDisk(vm.vmCid, diskCid) });
    expect(await vm.agent.listDisk()).toEqual([diskCid]);
    // Not formatted again: the data is there, and the filesystem grew to the new size.
    expect((await vm.agent.runCommand(`cat ${store}/marker`)).stdout.trim()).toBe('keep');
    expect(await storeSizeMiB()).toBeGreaterThan(110);
  });

  it('refuses to unmount the store while a container runs off it', async () => {
    await vm.loadImage(join(IMAGES_DIR, 'busybox.tar'));
    await vm.agent.apply(buildSpec([{ name: 'user', cmd: ['sleep', '3600'], storeVolumes: ['/data'], stopTimeoutS: 1 }]));
    const [diskCid] = await vm.agent.listDisk();
    await expect(vm.agent.unmountDisk(diskCid ?? '')).rejects.toMatchObject({ code: 'conflict', message: expect.stringMatching(/"user".*stop the instance/) as unknown });
    await vm.agent.stop();
    await vm.agent.unmountDisk(diskCid ?? '');
    expect(await vm.agent.listDisk()).toEqual([]);
  });
});
