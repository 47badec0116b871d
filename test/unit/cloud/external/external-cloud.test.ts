import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CloudError, DiskNotFoundError, NotSupportedError, VmCreationFailedError, VmNotFoundError } from '../../../../src/cloud/cloud.js';
import { ExternalCloud, CpiInvalidResponseError, CpiTimeoutError, CpiUnknownError, NotImplementedError } from '../../../../src/cloud/external/index.js';
import type { LogMeta, Logger } from '../../../../src/common/logger.js';
import { createFakeCpi, cpiError, ok, type FakeCpi, type FakeCpiAnswer } from '../../../helpers/fake-cpi-script.js';
import { vmRequest } from '../../../contract/cloud-contract.js';

function recordingLogger(): Logger & { text(): string } {
  const lines: string[] = [];
  const make = (): Logger => ({
    debug: (msg, meta?: LogMeta) => lines.push(`${msg} ${JSON.stringify(meta ?? {})}`),
    info: (msg, meta?: LogMeta) => lines.push(`${msg} ${JSON.stringify(meta ?? {})}`),
    warn: (msg, meta?: LogMeta) => lines.push(`${msg} ${JSON.stringify(meta ?? {})}`),
    error: (msg, meta?: LogMeta) => lines.push(`${msg} ${JSON.stringify(meta ?? {})}`),
    child: () => make(),
  });
  return Object.assign(make(), { text: () => lines.join('\n') });
}

let cpi: FakeCpi | undefined;
afterEach(() => cpi?.cleanup());

function cloudWith(answers: Record<string, FakeCpiAnswer>, extra: { properties?: Record<string, unknown>; timeoutsMs?: Record<string, number>; logger?: Logger } = {}): ExternalCloud {
  cpi = createFakeCpi(answers);
  return new ExternalCloud({ cpi: cpi.path, cpiArgs: cpi.args, directorUuid: 'uuid-1', ...extra });
}

async function failure(p: Promise<unknown>): Promise<CloudError> {
  const err = await p.then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(CloudError);
  return err as CloudError;
}

const V2 = { info: ok({ api_version: 2, stemcell_formats: ['warden-tar'] }) };

describe('ExternalCloud: versions and the request', () => {
  it('asks info first without api_version, then speaks v2: create_vm gives [cid, networks], attach_disk the hint', async () => {
    const cloud = cloudWith(
      {
        ...V2,
        create_vm: ok(['vm-1', { default: { type: 'dynamic', ip: '10.0.0.5', netmask: '255.255.255.0', gateway: '10.0.0.1' } }]),
        attach_disk: ok({ volume_id: 'vol-9', path: '/dev/sdc' }),
      },
      { properties: { region: 'eu-1', access_key: 'AK' } },
    );
    const created = await cloud.createVm({ ...vmRequest('agent-1'), stemcellApiVersion: 3 });
    expect(created).toEqual({ vmCid: 'vm-1', networks: { default: { ip: '10.0.0.5', netmask: '255.255.255.0', gateway: '10.0.0.1' } } });
    expect(await cloud.attachDisk('vm-1', 'disk-1')).toEqual({ volume_id: 'vol-9', path: '/dev/sdc' });
    const [info, createVm, attach] = cpi!.requests();
    expect(info?.method).toBe('info');
    expect(info).not.toHaveProperty('api_version');
    expect(createVm).toMatchObject({ method: 'create_vm', api_version: 2 });
    expect(createVm?.arguments.slice(0, 5)).toEqual(['agent-1', 'default', {}, { default: { type: 'dynamic', default: ['dns', 'gateway'], cloud_properties: {} } }, []]);
    expect(createVm?.arguments[5]).toMatchObject({ bosun: { directorUrl: 'https://127.0.0.1:25555' } });
    expect(createVm?.context).toMatchObject({ director_uuid: 'uuid-1', region: 'eu-1', access_key: 'AK', vm: { stemcell: { api_version: 3 } } });
    expect(String(createVm?.context['request_id'])).toMatch(/^cpi-\d{6}$/);
    expect(attach).toMatchObject({ method: 'attach_disk', arguments: ['vm-1', 'disk-1'], api_version: 2 });
    expect(cpi!.requests().filter((r) => r.method === 'info')).toHaveLength(1);
  });

  it('keeps v1 CPIs working: no api_version in info means 1, create_vm gives a cid, attach_disk no hint', async () => {
    const cloud = cloudWith({ info: ok({ stemcell_formats: ['openstack-raw'] }), create_vm: ok('i-123'), attach_disk: ok(null) });
    expect((await cloud.info()).apiVersion).toBe(1);
    const created = await cloud.createVm(vmRequest('agent-1'));
    expect(created.vmCid).toBe('i-123');
    expect(created.networks).toEqual(vmRequest('agent-1').networks);
    expect(await cloud.attachDisk('i-123', 'vol-1')).toEqual({ path: '' });
    expect(cpi!.requests().at(-1)?.api_version).toBe(1);
  });

  it('uses min(CPI api_version, 2); a v2 attach_disk without a hint is an error', async () => {
    const cloud = cloudWith({ info: ok({ api_version: 3 }), attach_disk: ok(null), has_vm: ok(true) });
    expect((await cloud.info()).apiVersion).toBe(2);
    expect(await cloud.hasVm('vm-1')).toBe(true);
    expect(cpi!.requests().at(-1)?.api_version).toBe(2);
    const err = await failure(cloud.attachDisk('vm-1', 'disk-1'));
    expect(err).toBeInstanceOf(CpiInvalidResponseError);
    expect(err.message).toMatch(/No disk_hint/);
  });

  it('gives the CPI only PATH and TMPDIR', async () => {
    const cloud = cloudWith({ ...V2, get_disks: { env: true } });
    const err = await failure(cloud.getDisks('vm-1'));
    // the environment object is not a list of cids: the answer is quoted in the error
    const env = JSON.parse(/answered (\{.*\}); expected/.exec(err.message)?.[1] ?? '{}') as Record<string, string>;
    expect(Object.keys(env).sort()).toEqual(['PATH', 'TMPDIR']);
    expect(env['PATH']).toBe('/usr/sbin:/usr/bin:/sbin:/bin');
  });
});

describe('ExternalCloud: errors', () => {
  it('maps CPI error types to typed cloud errors, with ok_to_retry', async () => {
    const cloud = cloudWith({
      ...V2,
      has_vm: cpiError('VMNotFound', 'no such instance'),
      has_disk: cpiError('DiskNotFound', 'no such volume'),
      create_vm: cpiError('VMCreationFailed', 'capacity', true),
      delete_vm: cpiError('CloudError', 'throttled', true),
      reboot_vm: cpiError('Bosh::Clouds::Weird', 'strange'),
      resize_disk: cpiError('NotSupported', 'cannot resize'),
      get_disks: cpiError('Bosh::Clouds::VMNotFound', 'no such container'),
      detach_disk: cpiError('Bosh::Clouds::CloudError', 'busy', true),
    });
    const vm = await failure(cloud.hasVm('vm-9'));
    expect(vm).toBeInstanceOf(VmNotFoundError);
    expect(vm.message).toContain('no such instance');
    expect(await failure(cloud.hasDisk('d-9'))).toBeInstanceOf(DiskNotFoundError);
    const create = await failure(cloud.createVm(vmRequest('a')));
    expect(create).toBeInstanceOf(VmCreationFailedError);
    expect(create.okToRetry).toBe(true);
    const del = await failure(cloud.deleteVm('vm-1'));
    expect([del.type, del.okToRetry]).toEqual(['CloudError', true]);
    expect(del.message).toContain('throttled');
    const unknown = await failure(cloud.rebootVm('vm-1'));
    expect(unknown).toBeInstanceOf(CpiUnknownError);
    expect(unknown.okToRetry).toBe(false);
    expect(await failure(cloud.resizeDisk('d-1', 20))).toBeInstanceOf(NotSupportedError);
    // the Ruby class names bosh-cpi-go answers with
    expect(await failure(cloud.getDisks('vm-1'))).toBeInstanceOf(VmNotFoundError);
    const busy = await failure(cloud.detachDisk('vm-1', 'd-1'));
    expect([busy.type, busy.okToRetry]).toEqual(['CloudError', true]);
  });

  it('treats the unknown-method answers of older CPIs as NotImplemented (a NotSupported)', async () => {
    const cloud = cloudWith({ ...V2, resize_disk: cpiError('InvalidCall', "Method is not known, got 'resize_disk'"), snapshot_disk: cpiError('CloudError', 'Invalid Method: snapshot_disk') });
    const resize = await failure(cloud.resizeDisk('d-1', 20));
    expect(resize).toBeInstanceOf(NotImplementedError);
    expect(resize).toBeInstanceOf(NotSupportedError);
    expect(resize.type).toBe('NotImplemented');
    expect(await failure(cloud.snapshotDisk('d-1', {}))).toBeInstanceOf(NotImplementedError);
  });

  it('calls garbage, a wrong shape or a crash without JSON an invalid response naming the CPI and method', async () => {
    const cloud = cloudWith({
      ...V2,
      has_vm: { raw: 'Traceback: boom' },
      has_disk: { raw: '{"answer": 42}' },
      get_disks: { raw: 'panic: nil pointer', exit: 2 },
      create_disk: ok(17),
    });
    const garbage = await failure(cloud.hasVm('vm-1'));
    expect(garbage).toBeInstanceOf(CpiInvalidResponseError);
    expect(garbage.message).toContain(`the CPI ${process.execPath} (method has_vm) did not answer with JSON`);
    expect(garbage.message).toContain('Traceback: boom');
    expect((await failure(cloud.hasDisk('d'))).message).toMatch(/method has_disk.*without "result" and "error"/);
    expect((await failure(cloud.getDisks('vm-1'))).message).toMatch(/method get_disks.*exit status 2/);
    expect((await failure(cloud.createDisk(10, {}))).message).toMatch(/method create_disk\) answered 17; expected a disk cid/);
  });

  it('a CPI that cannot be started is a clear error', async () => {
    const cloud = new ExternalCloud({ cpi: '/nonexistent/cpi' });
    expect((await failure(cloud.info())).message).toMatch(/the CPI \/nonexistent\/cpi \(method info\) could not be started.*check the cloud's `cpi` path/);
  });

  it('kills the CPI and its process group when a method runs past its timeout', async () => {
    const pidFile = join(tmpdir(), `bosun-fake-cpi-child-${process.pid}`);
    const cloud = cloudWith({ ...V2, delete_vm: { sleep: 30_000, pidFile } }, { timeoutsMs: { delete_vm: 500 } });
    const started = Date.now();
    const err = await failure(cloud.deleteVm('vm-1'));
    expect(err).toBeInstanceOf(CpiTimeoutError);
    expect(err.message).toMatch(/method delete_vm\) did not answer within 1 s and was killed; raise cloud.timeouts.delete_vm/);
    expect(Date.now() - started).toBeLessThan(5_000);
    const childPid = Number(readFileSync(pidFile, 'utf8'));
    await new Promise((r) => setTimeout(r, 200));
    expect(existsSync(`/proc/${childPid}`) && !/\) Z /.test(readFileSync(`/proc/${childPid}/stat`, 'utf8'))).toBe(false);
  });

  it('sends stderr and the response log to the logger with secrets redacted', async () => {
    const logger = recordingLogger();
    const cloud = cloudWith(
      {
        ...V2,
        has_vm: { stderr: 'config: {"password": "hunter2", "host": "h1", "Mbus": "https://mbus:mbus-pw-42@0.0.0.0:6868"}\nAGENT_PASSWORD=swordfish\n', then: ok(true, 'mbus: https://u\nsecret_key: s3cr3t\n') },
      },
      { logger },
    );
    expect(await cloud.hasVm('vm-1')).toBe(true);
    const text = logger.text();
    expect(text).toContain('h1');
    expect(text).toContain('cpi stderr');
    expect(text).toContain('cpi log');
    expect(text).toContain('https://mbus:<redacted>@0.0.0.0:6868');
    for (const secret of ['hunter2', 'swordfish', 's3cr3t', 'mbus-pw-42']) expect(text).not.toContain(secret);
  });
});
