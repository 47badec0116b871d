/**
 * Resurrection and cloud-check against faults that leave the VM itself alive, on the real local
 * cloud (VMs, agent, dockerd, redis on a persistent disk), with short health timings (heartbeat
 * 500 ms, agent timeout 3 s) since these tests do not measure the defaults:
 *  - the agent is killed and its restart loop cannot bring it back (dockerd and redis keep running);
 *  - the VM is partitioned from the director (iptables inside the VM's network namespace);
 *  - with resurrection off, a VM deleted from outside is found and fixed by cck.
 * In the first two, the disk's holders are sampled every ~50 ms: never two VMs at once, and the
 * old VM is deleted before the disk is attached to the new one (the director's cloud call log).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CckResult } from '../../src/common/contracts/api.js';
import { isAlive, pidNamespaceOf, processesInPidNamespace } from '../../src/cloud/local/processes.js';
import { promises as fs } from 'node:fs';
import type { CloudCall } from '../helpers/cloud-call-log.js';
import type { LocalDirectorStack } from '../helpers/local-director-stack.js';
import {
  createRedisStack,
  redisInstance,
  redisValue,
  type PlacedInstance,
} from '../helpers/redis-deployment.js';
import { redisCommand } from '../helpers/redis-resp.js';
import { RESURRECT_DEPLOYMENT, RESURRECT_MANIFEST, newVmOf } from '../helpers/resurrect-kit.js';
import {
  agentProcesses,
  killAgentForGood,
  partitionVm,
  watchDiskHolders,
  type DiskSample,
} from '../helpers/vm-faults.js';
import { ended, waitUntil } from '../helpers/waits.js';

const DEPLOYMENT = RESURRECT_DEPLOYMENT;

/** Asserts the disk was never on two VMs, that the samples saw it move old → new, and were dense. */
function expectSingleHolder(samples: DiskSample[], oldVm: string, newVm: string): void {
  expect(samples.filter((s) => s.error !== undefined).map((s) => s.error)).toEqual([]);
  const overlaps = samples.filter((s) => s.mountedOn.length > 1 || s.loops.length > 1);
  expect(overlaps).toEqual([]);
  // Not vacuous: the watcher saw the disk mounted on the old VM, then on the new one.
  const firstOld = samples.findIndex((s) => s.mountedOn[0] === oldVm);
  const firstNew = samples.findIndex((s) => s.mountedOn[0] === newVm);
  expect(firstOld).toBeGreaterThanOrEqual(0);
  expect(firstNew).toBeGreaterThan(firstOld);
  // From the first sample with the disk on the new VM on, the old VM's PID 1 is gone.
  expect(samples.slice(firstNew).filter((s) => s.liveVms.includes(oldVm))).toEqual([]);
  const gaps = samples
    .slice(1)
    .map((s, i) => s.at - (samples[i]?.at ?? s.at))
    .sort((a, b) => a - b);
  expect(gaps[Math.floor(gaps.length / 2)] ?? Infinity).toBeLessThan(250);
}

/** Asserts from the director's cloud calls: old VM deleted (and seen gone) before create and attach. */
function expectFencedInOrder(calls: CloudCall[], oldVm: string, newVm: string, diskCid: string): void {
  const del = calls.find((c) => c.method === 'deleteVm' && c.args[0] === oldVm && c.ok === true);
  const create = calls.find(
    (c) => c.method === 'createVm' && (c.result as { vmCid?: string } | undefined)?.vmCid === newVm,
  );
  const attach = calls.find(
    (c) => c.method === 'attachDisk' && c.args[0] === newVm && c.args[1] === diskCid && c.ok === true,
  );
  if (!del?.endedAt || !create || !attach) {
    throw new Error(
      `missing cloud calls (deleteVm ${oldVm}: ${!!del}, createVm → ${newVm}: ${!!create}, attachDisk: ${!!attach}); ` +
        `calls: ${calls.map((c) => c.method).join(', ')}`,
    );
  }
  expect(del.endedAt).toBeLessThanOrEqual(create.startedAt);
  expect(del.endedAt).toBeLessThanOrEqual(attach.startedAt);
  const goneSeen = calls.find(
    (c) => c.method === 'hasVm' && c.args[0] === oldVm && c.result === false && c.startedAt >= del.startedAt,
  );
  expect(goneSeen?.endedAt).toBeLessThanOrEqual(attach.startedAt);
}

describe('resurrection and cck on the local cloud: agent faults with the VM alive', () => {
  let stack: LocalDirectorStack | undefined;

  function s(): LocalDirectorStack {
    if (!stack) throw new Error('no stack');
    return stack;
  }

  function current(): Promise<PlacedInstance> {
    return redisInstance(s().director, DEPLOYMENT);
  }

  beforeAll(async () => {
    stack = await createRedisStack(RESURRECT_MANIFEST, {
      health: {
        health: { heartbeat_interval: '500ms', agent_timeout: '3s', analyze_interval: '500ms' },
        resurrector: { retry_interval: '2s' },
      },
    });
  }, 240_000);

  afterAll(async () => {
    await stack?.close();
  }, 120_000);

  it('an agent killed for good (dockerd and redis still up) gets its VM replaced, old VM deleted first', async () => {
    const { director: d, fx, cloudCalls } = s();
    const before = await current();
    expect(await redisCommand(before.ip, 6379, ['SET', 'bosun:agent-gone', 'kept'])).toBe('OK');
    const watch = watchDiskHolders(fx.cloud, before.diskCid);
    try {
      const { agentPid } = await killAgentForGood(fx.cloud, before.vmCid);
      // Longer than the loop's 1 s restart delay: still no agent, while dockerd and redis run on.
      await new Promise((r) => setTimeout(r, 1_300));
      await expect(agentProcesses(fx.cloud, before.vmCid)).rejects.toThrow(/no running agent/);
      expect(await isAlive(agentPid)).toBe(false);
      const pid1 = await fx.cloud.vmPid(before.vmCid);
      const ns = pid1 === null ? null : await pidNamespaceOf(pid1);
      if (ns === null) throw new Error('the VM died with its agent; the test needs it alive');
      const cmds = await Promise.all(
        (await processesInPidNamespace(ns)).map((p) =>
          fs.readFile(`/proc/${p}/cmdline`, 'utf8').catch(() => ''),
        ),
      );
      expect(cmds.some((c) => c.startsWith('dockerd\0') || c.includes('/dockerd\0'))).toBe(true);
      expect(await redisCommand(before.ip, 6379, ['PING'])).toBe('PONG');

      const after = await newVmOf(d, DEPLOYMENT, before.vmCid);
      expect(await redisValue(after.ip ?? '', 'bosun:agent-gone')).toBe('kept');
      expectSingleHolder(await watch.stop(), before.vmCid, after.vmCid ?? '');
      expectFencedInOrder(cloudCalls, before.vmCid, after.vmCid ?? '', before.diskCid);
      expect(after.diskCids).toEqual([before.diskCid]);
      expect(await fx.cloud.hasVm(before.vmCid)).toBe(false);
      const alerts = (await d.listAlerts({ deployment: DEPLOYMENT })).map((a) => a.category);
      expect(alerts).toContain('agent_unresponsive');
      expect(alerts).toContain('resurrection_succeeded');
    } finally {
      await watch.stop();
    }
  }, 180_000);

  it('a VM partitioned from the director is replaced; the disk is never on two VMs', async () => {
    const { director: d, fx, cloudCalls } = s();
    const before = await current();
    expect(await redisCommand(before.ip, 6379, ['SET', 'bosun:partitioned', 'intact'])).toBe('OK');
    const watch = watchDiskHolders(fx.cloud, before.diskCid);
    try {
      await partitionVm(before.vmCid, fx.hostIp);
      const partitionedAt = Date.now();
      // Only the VM's own traffic is cut (INPUT/OUTPUT): redis, reached through docker's DNAT and
      // FORWARD, still serves — the split-brain case fencing must handle.
      expect(await redisCommand(before.ip, 6379, ['PING'])).toBe('PONG');
      await waitUntil(
        'agent_unresponsive for the partitioned VM',
        async () =>
          (await d.listAlerts({ deployment: DEPLOYMENT })).find(
            (a) =>
              a.category === 'agent_unresponsive' &&
              a.summary.includes(before.vmCid) &&
              Date.parse(a.createdAt) >= partitionedAt,
          ),
        30_000,
      );
      const after = await newVmOf(d, DEPLOYMENT, before.vmCid);
      expect(await redisValue(after.ip ?? '', 'bosun:partitioned')).toBe('intact');
      const samples = await watch.stop();
      expectSingleHolder(samples, before.vmCid, after.vmCid ?? '');
      expectFencedInOrder(cloudCalls, before.vmCid, after.vmCid ?? '', before.diskCid);
      expect(await redisCommand(after.ip ?? '', 6379, ['GET', 'bosun:agent-gone'])).toBe('kept');
      expect(await fx.cloud.hasVm(before.vmCid)).toBe(false);
    } finally {
      await watch.stop();
    }
  }, 180_000);

  it('with resurrection off, cck finds a VM deleted from outside, auto fixes it, a rescan is clean', async () => {
    const { director: d, fx } = s();
    const before = await current();
    expect(await redisCommand(before.ip, 6379, ['SET', 'bosun:cck', 'survived'])).toBe('OK');
    await d.setResurrection(false, undefined, 'admin');
    try {
      const tasksBefore = (await d.listTasks({ deployment: DEPLOYMENT })).length;
      const deletedAt = Date.now();
      await fx.cloud.deleteVm(before.vmCid); // as from the IaaS console: the director is not told
      // The monitor notices, but with resurrection off nothing is recreated.
      await waitUntil(
        'a vm_missing alert',
        async () =>
          (await d.listAlerts({ deployment: DEPLOYMENT })).find(
            (a) =>
              a.category === 'vm_missing' &&
              a.instance === 'redis/0' &&
              Date.parse(a.createdAt) >= deletedAt - 1_000,
          ),
        30_000,
      );
      await new Promise((r) => setTimeout(r, 1_500));
      expect((await d.listTasks({ deployment: DEPLOYMENT })).length).toBe(tasksBefore);
      expect((await current()).vmCid).toBe(before.vmCid);

      const cck = async (request: Parameters<typeof d.cloudCheck>[1]): Promise<CckResult> =>
        JSON.parse(
          (await ended(d, (await d.cloudCheck(DEPLOYMENT, request, 'admin')).id)) ?? '{}',
        ) as CckResult;
      const report = await cck({ report: true });
      const problem = report.problems.find((p) => p.instance === 'redis/0');
      expect(['missing_vm', 'unresponsive_agent']).toContain(problem?.type);
      expect((await current()).vmCid).toBe(before.vmCid); // report changes nothing

      const fixed = await cck({ auto: true });
      expect(fixed.problems.find((p) => p.instance === 'redis/0')?.appliedResolution).toBe('recreate_vm');
      const after = await current();
      expect(after.vmCid).not.toBe(before.vmCid);
      expect(after.diskCid).toBe(before.diskCid);
      expect(await redisValue(after.ip, 'bosun:cck')).toBe('survived');
      expect((await cck({ report: true })).problems).toEqual([]);
    } finally {
      await d.setResurrection(true, undefined, 'admin');
    }
  }, 180_000);
});
