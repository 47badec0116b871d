/**
 * Resurrection for real: the director (health monitor on, default timings) deploys redis onto a
 * local-cloud VM with a persistent disk; the VM is killed from outside (SIGKILL of its PID 1 and
 * its network namespace deleted); with no operator command the instance comes back on a new VM
 * with the same disk and the data redis wrote.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { netnsName } from '../../src/cloud/local/network.js';
import { IMAGES_DIR } from '../helpers/agent-vm-fixture.js';
import { createLocalDirectorStack, type LocalDirectorStack } from '../helpers/local-director-stack.js';
import { redisCommand } from '../helpers/redis-resp.js';
import { RESURRECT_MANIFEST, ended, waitUntil } from '../helpers/resurrect-kit.js';

const exec = promisify(execFile);

describe('resurrection on the local cloud (real VMs, agent, dockerd, redis)', () => {
  let stack: LocalDirectorStack | undefined;

  beforeAll(async () => {
    stack = await createLocalDirectorStack();
    const d = stack.director;
    await ended(d, (await d.uploadImage(join(IMAGES_DIR, 'redis.tar'), undefined, 'admin')).id);
    await ended(d, (await d.deploy({ manifest: RESURRECT_MANIFEST }, 'admin')).id);
  }, 240_000);

  afterAll(async () => {
    await stack?.close();
  }, 120_000);

  it('a VM killed from outside comes back on a new VM with its disk and data, by itself', async () => {
    const s = stack;
    if (!s) throw new Error('no stack');
    const d = s.director;
    const [before] = await d.listInstances('resurrect');
    if (!before?.vmCid || !before.ip) throw new Error('redis/0 has no VM');
    expect(await redisCommand(before.ip, 6379, ['SET', 'bosun:answer', '42'])).toBe('OK');

    const pid = await s.fx.cloud.vmPid(before.vmCid);
    if (pid === null) throw new Error('no PID 1 for the VM');
    const killedAt = Date.now();
    process.kill(pid, 'SIGKILL');
    await exec('ip', ['netns', 'del', netnsName(before.vmCid)]).catch(() => undefined);

    const alert = await waitUntil(
      'an alert about redis/0',
      async () =>
        (await d.listAlerts({ deployment: 'resurrect' })).find(
          (a) => a.instance === 'redis/0' && ['vm_missing', 'agent_unresponsive'].includes(a.category),
        ),
      30_000,
    );
    const after = await waitUntil(
      'redis/0 on a new VM',
      async () => {
        const [i] = await d.listInstances('resurrect');
        return i?.vmCid && i.vmCid !== before.vmCid && i.ip ? i : undefined;
      },
      120_000,
    );
    const value = await waitUntil(
      'redis answering with its data',
      () => redisCommand(after.ip ?? '', 6379, ['GET', 'bosun:answer']).then((v) => v ?? undefined),
      120_000,
    );
    const totalMs = Date.now() - killedAt;
    expect(value).toBe('42');
    expect(after.diskCids).toEqual(before.diskCids);
    expect(await s.fx.cloud.hasVm(before.vmCid)).toBe(false);
    expect(alert.severity).toBe(2);
    const task = (await d.listTasks({ deployment: 'resurrect' })).find((t) => t.user === 'health_monitor');
    expect(task?.state).toBe('done');
    expect((await d.listAlerts({ deployment: 'resurrect' })).map((a) => a.category)).toContain(
      'resurrection_succeeded',
    );
    // Default timings: detection within ~1 s (hasVm), then a VM boot, dockerd and redis start.
    expect(totalMs).toBeLessThan(60_000);
  }, 300_000);

  it('a hung agent (SIGSTOP, its VM and redis still up) is replaced after the agent timeout', async () => {
    const s = stack;
    if (!s) throw new Error('no stack');
    const d = s.director;
    const [before] = await d.listInstances('resurrect');
    if (!before?.vmCid || !before.ip) throw new Error('redis/0 has no VM');
    expect(await redisCommand(before.ip, 6379, ['SET', 'bosun:hung', 'still here'])).toBe('OK');
    const stoppedAt = Date.now();
    await exec('pkill', ['-STOP', '-f', `vms/${before.vmCid}/settings.json`]);
    const alert = await waitUntil(
      'agent_unresponsive',
      async () =>
        (await d.listAlerts({ deployment: 'resurrect' })).find(
          (a) => a.category === 'agent_unresponsive' && a.summary.includes(before.vmCid ?? '?'),
        ),
      30_000,
    );
    // Not before the 10 s agent timeout (minus one heartbeat interval of slack).
    expect(Date.parse(alert.createdAt) - stoppedAt).toBeGreaterThan(7_000);
    const after = await waitUntil(
      'redis/0 on a new VM',
      async () => {
        const [i] = await d.listInstances('resurrect');
        return i?.vmCid && i.vmCid !== before.vmCid && i.ip ? i : undefined;
      },
      120_000,
    );
    expect(
      await waitUntil(
        'data',
        () => redisCommand(after.ip ?? '', 6379, ['GET', 'bosun:hung']).then((v) => v ?? undefined),
        120_000,
      ),
    ).toBe('still here');
    expect(await s.fx.cloud.hasVm(before.vmCid)).toBe(false);
  }, 300_000);
});
