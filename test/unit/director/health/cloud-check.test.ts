import { afterEach, describe, expect, it } from 'vitest';
import type { CckResult } from '../../../../src/common/contracts/api.js';
import { InvalidInputError } from '../../../../src/common/errors.js';
import { buildRig, deployFake, vmRequests, type HealthRig } from './health-kit.js';

let rig: HealthRig | undefined;
afterEach(async () => {
  await rig?.close();
  rig = undefined;
});

async function cck(r: HealthRig, request: Parameters<HealthRig['cck']['submit']>[1]): Promise<CckResult> {
  const h = await r.cck.submit('demo', request, 'admin');
  await h.done;
  const t = r.tasks.tasks.find((x) => x.id === h.id);
  if (t?.state !== 'done') throw new Error(`cck task ended ${t?.state}: ${t?.error}`);
  return t.result as CckResult;
}

/** Breaks the world in every way cloud-check knows, one instance per problem. */
async function breakEverything(r: HealthRig) {
  const [unresp, missing, mismatch, detached, withGoneDisk, withInactive] = await deployFake(
    r.cloud,
    r.store,
    { count: 6 },
  );
  if (!unresp || !missing || !mismatch || !detached || !withGoneDisk || !withInactive)
    throw new Error('deploy failed');
  r.cloud.diskData(unresp.disks[0]?.diskCid ?? '').set('k', 'unresp');
  r.cloud.makeAgentUnresponsive(unresp.agentId ?? '', true);
  r.cloud.loseVm(missing.vmCid ?? '');
  await r.cloud.agentConnector
    .connect({ agentId: mismatch.agentId ?? '', vmCid: mismatch.vmCid ?? '', ip: null })
    .unmountDisk(mismatch.disks[0]?.diskCid ?? '');
  const detachedDisk = detached.disks[0]?.diskCid ?? '';
  await r.cloud.agentConnector
    .connect({ agentId: detached.agentId ?? '', vmCid: detached.vmCid ?? '', ip: null })
    .unmountDisk(detachedDisk);
  await r.cloud.detachDisk(detached.vmCid ?? '', detachedDisk);
  r.store.byName('db/4').disks.push({ diskCid: 'disk-that-is-gone', sizeMiB: 10, active: true, hint: null });
  const inactive = await r.cloud.createDisk(10, {});
  r.store.byName('db/5').disks.push({ diskCid: inactive, sizeMiB: 10, active: false, hint: null });
  const stray = await r.cloud.createVm(await vmRequests.build(r.store.byName('db/0')));
  return { unresp, missing, mismatch, detached, inactive, stray: stray.vmCid };
}

describe('cloud-check', () => {
  it('finds every problem type, fixes them with the chosen resolutions, and a second scan finds none', async () => {
    rig = buildRig();
    const w = await breakEverything(rig);
    const report = await cck(rig, { report: true });
    const types = report.problems.map((p) => p.type).sort();
    expect(types).toEqual([
      'inactive_disk',
      'missing_disk',
      'missing_vm',
      'mount_info_mismatch',
      'mount_info_mismatch',
      'unknown_vm',
      'unresponsive_agent',
    ]);
    const byType = Object.fromEntries(report.problems.map((p) => [p.type, p]));
    expect(byType.unresponsive_agent?.resolutions.map((r) => r.name)).toEqual([
      'ignore',
      'reboot_vm',
      'recreate_vm',
      'delete_vm',
      'delete_vm_reference',
    ]);
    expect(byType.missing_vm?.defaultResolution).toBe('recreate_vm');
    expect(byType.unknown_vm?.description).toContain(w.stray);
    expect(report.problems.every((p) => p.appliedResolution === undefined)).toBe(true);
    // report changed nothing
    expect(await rig.cloud.hasVm(w.stray)).toBe(true);

    const fixed = await cck(rig, {
      resolutions: {
        unresponsive_agent: 'recreate_vm',
        missing_vm: 'recreate_vm',
        mount_info_mismatch: 'reattach_disk',
        missing_disk: 'delete_disk_reference',
        inactive_disk: 'activate_disk',
        unknown_vm: 'delete_vm',
      },
    });
    expect(fixed.problems.map((p) => p.appliedResolution).sort()).toEqual([
      'activate_disk',
      'delete_disk_reference',
      'delete_vm',
      'reattach_disk',
      'reattach_disk',
      'recreate_vm',
      'recreate_vm',
    ]);
    const again = await cck(rig, { report: true });
    expect(again.problems).toEqual([]);

    // The unresponsive instance got a new VM with its disk and data; the stray VM is gone.
    const now = rig.store.byName('db/0');
    expect(now.vmCid).not.toBe(w.unresp.vmCid);
    expect(
      rig.cloud
        .agentOfVm(now.vmCid ?? '')
        ?.storeData()
        .get('k'),
    ).toBe('unresp');
    expect(await rig.cloud.hasVm(w.stray)).toBe(false);
    expect(await rig.cloud.getDisks(rig.store.byName('db/5').vmCid ?? '')).toContain(w.inactive);
  });

  it('--auto applies the defaults (recreate_vm, reattach_disk) and leaves the rest', async () => {
    rig = buildRig();
    await breakEverything(rig);
    const res = await cck(rig, { auto: true });
    const applied = Object.fromEntries(res.problems.map((p) => [p.type, p.appliedResolution]));
    expect(applied).toMatchObject({
      unresponsive_agent: 'recreate_vm',
      missing_vm: 'recreate_vm',
      mount_info_mismatch: 'reattach_disk',
      missing_disk: 'ignore',
      inactive_disk: 'ignore',
      unknown_vm: 'ignore',
    });
    const after = await cck(rig, { report: true });
    expect(after.problems.map((p) => p.type).sort()).toEqual(['inactive_disk', 'missing_disk', 'unknown_vm']);
  });

  it('deletes VMs and references, reboots, and deletes inactive disks', async () => {
    rig = buildRig();
    const [a, b] = await deployFake(rig.cloud, rig.store, { count: 2 });
    rig.cloud.makeAgentUnresponsive(a?.agentId ?? '', true);
    const inactive = await rig.cloud.createDisk(10, {});
    rig.store.byName('db/1').disks.push({ diskCid: inactive, sizeMiB: 10, active: false, hint: null });
    // An orphaned disk that is still attached to an instance's VM is an inactive disk too.
    const orphan = await rig.cloud.createDisk(10, {});
    await rig.cloud.attachDisk(b?.vmCid ?? '', orphan);
    rig.store.orphans.push({ diskCid: orphan, sizeMiB: 10, active: false, hint: null });
    const report = await cck(rig, { report: true });
    expect(report.problems.filter((p) => p.type === 'inactive_disk').map((p) => p.description)).toEqual([
      expect.stringContaining(inactive),
      expect.stringMatching(new RegExp(`${orphan} is orphaned but still attached`)),
    ]);
    await cck(rig, { resolutions: { unresponsive_agent: 'delete_vm', inactive_disk: 'delete_disk' } });
    expect(await rig.cloud.hasDisk(orphan)).toBe(false);
    expect(await rig.cloud.hasVm(a?.vmCid ?? '')).toBe(false);
    expect(rig.store.byName('db/0').vmCid).toBeNull();
    expect(await rig.cloud.hasDisk(inactive)).toBe(false);
    expect(rig.store.byName('db/1').disks.map((d) => d.diskCid)).toEqual(b?.disks.map((d) => d.diskCid));
    expect((await cck(rig, { report: true })).problems).toEqual([]);
  });

  it('delete_disk never detaches a disk its agent could not unmount', async () => {
    rig = buildRig();
    const [a] = await deployFake(rig.cloud, rig.store, { count: 1 });
    const vmCid = a?.vmCid ?? '';
    const extra = await rig.cloud.createDisk(10, {});
    const hint = await rig.cloud.attachDisk(vmCid, extra);
    const agent = rig.cloud.agentOfVm(vmCid);
    await agent?.mountDisk({ diskCid: extra, hint, newDisk: true });
    if (agent) agent.storeHolders = ['redis'];
    rig.store.byName('db/0').disks.push({ diskCid: extra, sizeMiB: 10, active: false, hint });
    await expect(cck(rig, { resolutions: { inactive_disk: 'delete_disk' } })).rejects.toThrow(/did not unmount it/);
    expect(await rig.cloud.getDisks(vmCid)).toContain(extra);
    expect(await rig.cloud.hasDisk(extra)).toBe(true);
  });

  it('refuses unknown resolutions before any task exists', async () => {
    rig = buildRig();
    await expect(
      rig.cck.submit('demo', { resolutions: { missing_vm: 'reboot_vm' } }, 'admin'),
    ).rejects.toThrow(InvalidInputError);
    await expect(
      rig.cck.submit('demo', { resolutions: { missing_vm: 'reboot_vm' } }, 'admin'),
    ).rejects.toThrow(/use one of ignore, recreate_vm, delete_vm_reference/);
    await expect(rig.cck.submit('demo', { resolutions: { nope: 'ignore' } }, 'admin')).rejects.toThrow(
      /not a cloud-check problem type/,
    );
    expect(rig.tasks.tasks).toHaveLength(0);
  });
});
