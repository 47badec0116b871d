/**
 * Resurrection for real: the director (health monitor on, default timings) deploys redis onto a
 * local-cloud VM with a persistent disk; the VM is killed from outside (SIGKILL of its PID 1 and
 * its network namespace deleted); with no operator command the instance comes back on a new VM
 * with the same disk and the data redis wrote.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalDirectorStack } from '../helpers/local-director-stack.js';
import { createRedisStack, redisInstance, redisValue } from '../helpers/redis-deployment.js';
import { redisCommand } from '../helpers/redis-resp.js';
import { RESURRECT_DEPLOYMENT, RESURRECT_MANIFEST, newVmOf } from '../helpers/resurrect-kit.js';
import { freezeAgent, killVm } from '../helpers/vm-faults.js';
import { waitUntil } from '../helpers/waits.js';

describe('resurrection on the local cloud (real VMs, agent, dockerd, redis)', () => {
  let stack: LocalDirectorStack | undefined;

  function s(): LocalDirectorStack {
    if (!stack) throw new Error('no stack');
    return stack;
  }

  beforeAll(async () => {
    stack = await createRedisStack(RESURRECT_MANIFEST);
  }, 240_000);

  afterAll(async () => {
    await stack?.close();
  }, 120_000);

  it('a VM killed from outside comes back on a new VM with its disk and data, by itself', async () => {
    const { director: d, fx } = s();
    const before = await redisInstance(d, RESURRECT_DEPLOYMENT);
    expect(await redisCommand(before.ip, 6379, ['SET', 'bosun:answer', '42'])).toBe('OK');

    const killedAt = await killVm(fx.cloud, before.vmCid);

    const alert = await waitUntil(
      'an alert about redis/0',
      async () =>
        (await d.listAlerts({ deployment: RESURRECT_DEPLOYMENT })).find(
          (a) => a.instance === 'redis/0' && ['vm_missing', 'agent_unresponsive'].includes(a.category),
        ),
      30_000,
    );
    const after = await newVmOf(d, RESURRECT_DEPLOYMENT, before.vmCid);
    const value = await redisValue(after.ip ?? '', 'bosun:answer');
    const totalMs = Date.now() - killedAt;
    expect(value).toBe('42');
    expect(after.diskCids).toEqual(before.diskCids);
    expect(await fx.cloud.hasVm(before.vmCid)).toBe(false);
    expect(alert.severity).toBe(2);
    const task = (await d.listTasks({ deployment: RESURRECT_DEPLOYMENT })).find(
      (t) => t.user === 'health_monitor',
    );
    expect(task?.state).toBe('done');
    expect((await d.listAlerts({ deployment: RESURRECT_DEPLOYMENT })).map((a) => a.category)).toContain(
      'resurrection_succeeded',
    );
    // Default timings: detection within ~1 s (hasVm), then a VM boot, dockerd and redis start.
    expect(totalMs).toBeLessThan(60_000);
  }, 300_000);

  it('a hung agent (SIGSTOP, its VM and redis still up) is replaced after the agent timeout', async () => {
    const { director: d, fx } = s();
    const before = await redisInstance(d, RESURRECT_DEPLOYMENT);
    expect(await redisCommand(before.ip, 6379, ['SET', 'bosun:hung', 'still here'])).toBe('OK');
    const stoppedAt = await freezeAgent(fx.cloud, before.vmCid);
    const alert = await waitUntil(
      'agent_unresponsive',
      async () =>
        (await d.listAlerts({ deployment: RESURRECT_DEPLOYMENT })).find(
          (a) => a.category === 'agent_unresponsive' && a.summary.includes(before.vmCid),
        ),
      30_000,
    );
    // Not before the 10 s agent timeout (minus one heartbeat interval of slack).
    expect(Date.parse(alert.createdAt) - stoppedAt).toBeGreaterThan(7_000);
    const after = await newVmOf(d, RESURRECT_DEPLOYMENT, before.vmCid);
    expect(await redisValue(after.ip ?? '', 'bosun:hung')).toBe('still here');
    expect(await fx.cloud.hasVm(before.vmCid)).toBe(false);
  }, 300_000);
});
