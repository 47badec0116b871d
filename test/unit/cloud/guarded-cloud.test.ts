import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  CloudError,
  DiskAttachedElsewhereError,
  VmCreationFailedError,
  type Cloud,
} from '../../../src/cloud/cloud.js';
import { FakeCloud } from '../../../src/cloud/fake/fake-cloud.js';
import { GuardedCloud, okToRetry, redactArgs } from '../../../src/cloud/guarded-cloud.js';
import type { LogMeta, Logger } from '../../../src/common/logger.js';
import { describeCloudContract, vmRequest } from '../../contract/cloud-contract.js';

function recordingLogger(): Logger & { lines: Array<{ level: string; msg: string; meta?: LogMeta }> } {
  const lines: Array<{ level: string; msg: string; meta?: LogMeta }> = [];
  const make = (): Logger => ({
    debug: (msg, meta) => lines.push({ level: 'debug', msg, ...(meta ? { meta } : {}) }),
    info: (msg, meta) => lines.push({ level: 'info', msg, ...(meta ? { meta } : {}) }),
    warn: (msg, meta) => lines.push({ level: 'warn', msg, ...(meta ? { meta } : {}) }),
    error: (msg, meta) => lines.push({ level: 'error', msg, ...(meta ? { meta } : {}) }),
    child: () => make(),
  });
  return Object.assign(make(), { lines });
}

/** A driver without findDiskAttachment/listVms and without its own fencing: the wrapper must fence. */
function unfencedDriver(fake: FakeCloud): Cloud {
  return {
    info: () => fake.info(),
    createStemcell: (i, p) => fake.createStemcell(i, p),
    deleteStemcell: (c) => fake.deleteStemcell(c),
    createVm: (r) => fake.createVm(r),
    deleteVm: (v) => fake.deleteVm(v),
    hasVm: (v) => fake.hasVm(v),
    rebootVm: (v) => fake.rebootVm(v),
    setVmMetadata: (v, m) => fake.setVmMetadata(v, m),
    createDisk: (s, p, v) => fake.createDisk(s, p, v),
    deleteDisk: (d) => fake.deleteDisk(d),
    attachDisk: async () => ({ path: '/dev/unfenced' }),
    detachDisk: (v, d) => fake.detachDisk(v, d),
    hasDisk: (d) => fake.hasDisk(d),
    getDisks: (v) => fake.getDisks(v),
    resizeDisk: (d, s) => fake.resizeDisk(d, s),
  };
}

describe('GuardedCloud', () => {
  let fake: FakeCloud;
  afterEach(() => fake?.shutdown());

  it('logs every call with method, duration and outcome, never the agent key or certificate', async () => {
    fake = new FakeCloud();
    const logger = recordingLogger();
    const cloud = new GuardedCloud(fake, { logger });
    await cloud.createVm(vmRequest('a1'));
    fake.fail('createDisk');
    await expect(cloud.createDisk(10, {})).rejects.toBeInstanceOf(CloudError);
    const ok = logger.lines.find((l) => l.meta?.method === 'createVm');
    expect(ok?.meta).toMatchObject({ outcome: 'ok' });
    expect(typeof ok?.meta?.durationMs).toBe('number');
    const failed = logger.lines.find((l) => l.meta?.method === 'createDisk');
    expect(failed).toMatchObject({
      level: 'warn',
      meta: { outcome: 'error', okToRetry: false, args: [10, {}, undefined] },
    });
    const text = JSON.stringify(logger.lines);
    expect(text).not.toContain('SECRET-KEY');
    expect(text).not.toContain('"cert"');
    expect(text).toContain('<redacted>');
  });

  it('redacts nested secrets', () => {
    expect(redactArgs([{ env: { keyPem: 'k', certPem: 'c', directorUrl: 'u' } }])).toEqual([
      { env: { keyPem: '<redacted>', certPem: '<redacted>', directorUrl: 'u' } },
    ]);
  });

  it('enforces fencing itself when the driver does not', async () => {
    fake = new FakeCloud();
    const cloud = new GuardedCloud(unfencedDriver(fake), { logger: recordingLogger() });
    const a = await cloud.createVm(vmRequest('a'));
    const b = await cloud.createVm(vmRequest('b'));
    const disk = await cloud.createDisk(10, {});
    await fake.attachDisk(a.vmCid, disk); // the real attachment, behind the wrapper's back
    await expect(cloud.attachDisk(b.vmCid, disk)).rejects.toBeInstanceOf(DiskAttachedElsewhereError);
    await expect(cloud.createVm(vmRequest('c', [disk]))).rejects.toBeInstanceOf(DiskAttachedElsewhereError);
    expect(await cloud.findDiskAttachment(disk)).toBe(a.vmCid);
    // the same VM may attach again (idempotent)
    await expect(cloud.attachDisk(a.vmCid, disk)).resolves.toEqual({ path: '/dev/unfenced' });
    await cloud.deleteVm(a.vmCid);
    await expect(cloud.attachDisk(b.vmCid, disk)).resolves.toEqual({ path: '/dev/unfenced' });
  });

  it('uses the driver’s findDiskAttachment when it has one', async () => {
    fake = new FakeCloud();
    const cloud = new GuardedCloud(fake, { logger: recordingLogger() });
    const disk = await fake.createDisk(10, {});
    const a = await fake.createVm(vmRequest('a', [disk])); // created behind the wrapper's back
    const b = await cloud.createVm(vmRequest('b'));
    await expect(cloud.attachDisk(b.vmCid, disk)).rejects.toBeInstanceOf(DiskAttachedElsewhereError);
    expect(fake.callsOf('attachDisk')).toEqual([]); // refused before reaching the driver
    expect(await cloud.listVms()).toEqual([a.vmCid, b.vmCid].sort());
  });

  const quickRetries = { attempts: 3, backoff: { initialMs: 1, maxMs: 5 }, deadlineMs: 10_000 };

  it('retries a call that failed with okToRetry, logging each retry, and succeeds', async () => {
    fake = new FakeCloud();
    const logger = recordingLogger();
    const cloud = new GuardedCloud(fake, { logger, retry: quickRetries });
    fake.fail('createVm', { times: 2, error: new VmCreationFailedError('no capacity', { okToRetry: true }) });
    const created = await cloud.createVm(vmRequest('a'));
    expect(created.vmCid).toBeTruthy();
    expect(fake.callsOf('createVm')).toHaveLength(3);
    const retries = logger.lines.filter((l) => l.meta?.outcome === 'retry');
    expect(retries.map((l) => l.meta?.attempt)).toEqual([1, 2]);
    expect(retries[0]).toMatchObject({ level: 'warn', msg: 'cloud call failed, retrying', meta: { method: 'createVm', error: 'no capacity' } });
    expect(logger.lines.at(-1)?.meta).toMatchObject({ method: 'createVm', outcome: 'ok' });
  });

  it('gives up after the policy’s attempts and exposes okToRetry', async () => {
    fake = new FakeCloud();
    const cloud = new GuardedCloud(fake, { logger: recordingLogger(), retry: quickRetries });
    fake.fail('createVm', { always: true, error: new VmCreationFailedError('no capacity', { okToRetry: true }) });
    const err = await cloud.createVm(vmRequest('a')).catch((e: unknown) => e);
    expect(okToRetry(err)).toBe(true);
    expect(fake.callsOf('createVm')).toHaveLength(3);
  });

  it('does not retry a call that failed without okToRetry; foreign errors become CloudError', async () => {
    fake = new FakeCloud();
    const cloud = new GuardedCloud(fake, { logger: recordingLogger(), retry: quickRetries });
    fake.fail('createVm', { error: new VmCreationFailedError('bad stemcell', { okToRetry: false }) });
    await expect(cloud.createVm(vmRequest('a'))).rejects.toThrow('bad stemcell');
    expect(fake.callsOf('createVm')).toHaveLength(1);
    fake.fail('hasVm', { error: new TypeError('boom') });
    const foreign = await cloud.hasVm('vm-x').catch((e: unknown) => e);
    expect(foreign).toBeInstanceOf(CloudError);
    expect(okToRetry(foreign)).toBe(false);
    expect(fake.callsOf('hasVm')).toHaveLength(1);
    expect(okToRetry(new Error('x'))).toBe(false);
  });

  it('never retries a fencing refusal', async () => {
    fake = new FakeCloud();
    const cloud = new GuardedCloud(fake, { logger: recordingLogger(), retry: quickRetries });
    const disk = await cloud.createDisk(10, {});
    const a = await cloud.createVm(vmRequest('a', [disk]));
    const b = await cloud.createVm(vmRequest('b'));
    await expect(cloud.attachDisk(b.vmCid, disk)).rejects.toBeInstanceOf(DiskAttachedElsewhereError);
    expect(await cloud.findDiskAttachment(disk)).toBe(a.vmCid);
  });
});

const inner = new FakeCloud();
afterAll(() => inner.shutdown());
describeCloudContract('guarded(fake)', () => new GuardedCloud(inner, { logger: recordingLogger() }));
