/**
 * Persistent disk resize for real: the director deploys redis onto a local-cloud VM (agent,
 * dockerd, loop-device disk); a known data set (small, large, sparse files, hard links, symlinks,
 * odd modes and owners, xattrs) is written next to redis's data. Grow in place, shrink by copy,
 * a shrink below the data refused before anything stops, and an agent killed during the copy:
 * the data stays identical, redis keeps its keys, no disk is attached twice, no mount leaks.
 * The agent runs from dist/ (npm run build first).
 */
import { execFile } from 'node:child_process';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Director } from '../../src/director/director.js';
import { getXattrs, snapshotTree, writeDataSet, type SnapshotEntry } from '../helpers/disk-data-set.js';
import { hostPathOf, runInVm, vmPathsOf } from '../helpers/in-vm.js';
import type { LocalDirectorStack } from '../helpers/local-director-stack.js';
import { createRedisStack, redisInstance, redisManifest, redisValue } from '../helpers/redis-deployment.js';
import { redisCommand } from '../helpers/redis-resp.js';
import { waitUntil } from '../helpers/waits.js';

const exec = promisify(execFile);

const manifest = (diskMiB: number): string => redisManifest({ name: 'resize', diskMiB });

describe('persistent disk resize on the local cloud (real VM, agent, dockerd, redis)', () => {
  let stack: LocalDirectorStack | undefined;
  let d: Director;
  let expected: Record<string, SnapshotEntry>;

  const instance = async () => {
    if (!stack) throw new Error('no stack');
    const { vmCid, ip, diskCid } = await redisInstance(d, 'resize');
    const pid = await stack.fx.cloud.vmPid(vmCid);
    if (pid === null) throw new Error('no VM PID 1');
    return { vmCid, ip, diskCid, pid, paths: await vmPathsOf(stack.fx.cloud.vmDir(vmCid)) };
  };
  /** The VM's store as the host sees it through the VM's mount namespace. */
  const storeOf = async (): Promise<string> => {
    const i = await instance();
    return hostPathOf(i.pid, i.paths.store);
  };
  const inVm = async (args: string[]): Promise<string> => runInVm((await instance()).pid, args);
  const redisStartedAt = async (): Promise<string> => {
    const i = await instance();
    return (await inVm(['docker', '-H', `unix://${path.join(i.paths.run, 'docker.sock')}`, 'inspect', '-f', '{{.State.StartedAt}}', 'redis'])).trim();
  };
  const deploy = async (diskMiB: number) =>
    d.tasks.wait((await d.deploy({ manifest: manifest(diskMiB) }, 'admin')).id);

  /** Every invariant after a resize: data identical, redis has its keys, one disk attached, nothing mounted at the migration target. */
  const expectIntact = async (): Promise<void> => {
    const i = await instance();
    const store = await storeOf();
    expect(await snapshotTree(path.join(store, 'dataset'))).toEqual(expected);
    expect(await getXattrs(path.join(store, 'dataset/odd/xattr'))).toEqual({ 'user.bosun': 'resize-test' });
    expect(await redisValue(i.ip, 'bosun:answer', 60_000)).toBe('42');
    expect(await redisCommand(i.ip, 6379, ['GET', 'bosun:key:77'])).toBe('value-77');
    expect(await stack?.fx.cloud.getDisks(i.vmCid)).toEqual([i.diskCid]);
    const mounts = await readFile(`/proc/${i.pid}/mountinfo`, 'utf8');
    expect(mounts).not.toContain(` ${i.paths.migration} `);
    expect(mounts.split('\n').filter((l) => l.includes(` ${i.paths.store} `))).toHaveLength(1);
  };

  beforeAll(async () => {
    stack = await createRedisStack(manifest(256));
    d = stack.director;
    const i = await instance();
    expect(await redisCommand(i.ip, 6379, ['SET', 'bosun:answer', '42'])).toBe('OK');
    for (let k = 0; k < 200; k++) await redisCommand(i.ip, 6379, ['SET', `bosun:key:${k}`, `value-${k}`]);
    const dataset = path.join(await storeOf(), 'dataset');
    await mkdir(dataset, { recursive: true });
    await writeDataSet(dataset, { smallFiles: 500, largeFiles: 2, largeMiB: 8 });
    expected = await snapshotTree(dataset);
  }, 300_000);

  afterAll(async () => {
    await stack?.close();
  }, 120_000);

  it('grows in place: same disk, larger filesystem, data identical, redis keeps its keys', async () => {
    const before = await instance();
    const task = await deploy(768);
    expect(task.error).toBeNull();
    const after = await instance();
    expect(after.diskCid).toBe(before.diskCid);
    expect(
      Number(
        (
          await inVm([
            'df',
            '-B1',
            '--output=size',
            after.paths.store,
          ])
        ).split('\n')[1],
      ),
    ).toBeGreaterThan(700 * 1024 * 1024);
    await expectIntact();
    const events = await d.taskEvents(task.id);
    expect(events.some((e) => e.step === 'resize disk in the cloud' && e.state === 'finished')).toBe(true);
    const downtime = downtimeMs(events);
    process.stdout.write(`grow in place: downtime (stop → started) ${downtime} ms\n`);
    expect(downtime).toBeLessThan(15_000);
    expect(events.some((e) => e.step === 'copy data while the containers run')).toBe(false);
  }, 180_000);

  it('refuses a shrink below the data size before any container stops', async () => {
    const before = await instance();
    const startedAt = await redisStartedAt();
    const task = await deploy(70);
    expect(task.state).toBe('error');
    expect(task.error).toMatch(
      /Cannot shrink the persistent disk of redis\/0 .* to 70 MiB: its data uses \d+ MiB and needs at least \d+ MiB/,
    );
    expect(await redisStartedAt()).toBe(startedAt);
    expect((await instance()).diskCid).toBe(before.diskCid);
    await expectIntact();
  }, 120_000);

  it('an agent killed during the copy: the deploy fails, the re-run converges with nothing lost or leaked', async () => {
    const before = await instance();
    // Enough data for the copy to take a moment (incompressible, so it is really written).
    await exec('dd', [
      'if=/dev/urandom',
      `of=${path.join(await storeOf(), 'dataset-bulk.bin')}`,
      'bs=1M',
      'count=200',
      'status=none',
    ]);
    const task = await d.deploy({ manifest: manifest(512) }, 'admin');
    await waitUntil(
      'the bulk copy to start',
      async () =>
        (await d.taskEvents(task.id)).some(
          (e) => e.step === 'copy data while the containers run' && e.state === 'started',
        ) || undefined,
      60_000,
    );
    const agentPid = (await inVm(['pgrep', '-x', 'node'])).trim();
    expect(agentPid).toMatch(/^\d+$/);
    await inVm(['kill', '-9', agentPid]);
    const failed = await d.tasks.wait(task.id);
    expect(failed.state).toBe('error');
    expect(failed.error).toMatch(/failed at step "copy data while the containers run"/);
    // Nothing was stopped: the containers kept running on the old disk.
    expect((await instance()).diskCid).toBe(before.diskCid);
    const rerun = await deploy(512);
    expect(rerun.error).toBeNull();
    const after = await instance();
    expect(after.diskCid).not.toBe(before.diskCid);
    await expectIntact();
    const orphans = (await d.listDisks({ orphaned: true })).map((x) => x.diskCid);
    expect(orphans).toContain(before.diskCid);
    for (const cid of orphans) expect(await stack?.fx.cloud.getDisks(after.vmCid)).not.toContain(cid);
  }, 240_000);

  it('shrinks by copy: new disk, data identical, old disk orphaned, progress in the events', async () => {
    await exec('rm', ['-f', path.join(await storeOf(), 'dataset-bulk.bin')]);
    const before = await instance();
    const task = await deploy(200);
    expect(task.error).toBeNull();
    const after = await instance();
    expect(after.diskCid).not.toBe(before.diskCid);
    await expectIntact();
    expect((await d.listDisks({ orphaned: true })).map((x) => x.diskCid)).toContain(before.diskCid);
    const events = await d.taskEvents(task.id);
    process.stdout.write(`shrink by copy: downtime (stop → started) ${downtimeMs(events)} ms\n`);
    const progress = events.filter(
      (e) => e.state === 'in_progress' && typeof e.data?.bytesCopied === 'number',
    );
    expect(progress.length).toBeGreaterThan(0);
    for (const step of [
      'copy data while the containers run',
      'stop containers',
      'copy changes and verify',
      'swap disks',
      'start containers',
    ]) {
      expect(events.some((e) => e.step === step && e.state === 'finished')).toBe(true);
    }
  }, 180_000);
});

/** From the start of "stop containers" to the end of "start containers", from the task's events. */
function downtimeMs(events: Array<{ step: string; state: string; time: string }>): number {
  const stop = events.find((e) => e.step === 'stop containers' && e.state === 'started');
  const start = events.find((e) => e.step === 'start containers' && e.state === 'finished');
  if (!stop || !start) throw new Error('no stop/start events');
  return Date.parse(start.time) - Date.parse(stop.time);
}
