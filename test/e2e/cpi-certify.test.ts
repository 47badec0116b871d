/**
 * `bosun cpi-certify` end to end: the built CLI certifies bosun-local-cpi (with the built stemcell
 * uploaded through create_stemcell), real agents on its VMs, and prints a passing JSON report;
 * nothing is left in the cloud's data dir. Needs root, `npm run build` and a built stemcell.
 */
import { execFile } from 'node:child_process';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CertifyReport } from '../../src/director/cpi-certify/certify-cpi.js';
import { builtStemcellFile } from '../helpers/built-stemcell.js';
import { assertDirectorE2ePrerequisites, builtCli } from '../helpers/director-fixture.js';
import { createLocalCloudFixture, type LocalCloudFixture } from '../helpers/local-cloud-fixture.js';
import { assertLocalCpiBuilt, builtLocalCpi } from '../helpers/local-cpi.js';

const exec = promisify(execFile);

describe('bosun cpi-certify --cpi bosun-local-cpi', () => {
  let fx: LocalCloudFixture;
  beforeAll(async () => {
    assertDirectorE2ePrerequisites();
    assertLocalCpiBuilt();
    fx = await createLocalCloudFixture();
  }, 60_000);
  afterAll(async () => {
    await fx?.cleanup();
  }, 120_000);

  it('passes every required check (exit 0, --json) with the VMs and disk of a cloud config (manual addresses), and leaves nothing behind', async () => {
    const properties = join(fx.dataDir, 'cpi-properties.yml');
    const cloudDir = join(fx.dataDir, 'certify-cloud');
    await writeFile(properties, JSON.stringify({ data_dir: cloudDir, bridge: fx.bridgeName, subnet: fx.subnet }));
    const prefix = fx.hostIp.replace(/\d+$/, '');
    const cloudConfig = join(fx.dataDir, 'certify-cloud-config.yml');
    await writeFile(
      cloudConfig,
      [
        'vm_types: [{name: small, cloud_properties: {cpu: 1}}]',
        'disk_types: [{name: small, disk_size: 96}]',
        'networks:',
        '- name: certify',
        '  type: manual',
        `  subnets: [{range: ${fx.subnet}, gateway: ${fx.hostIp}, reserved: ["${prefix}2 - ${prefix}199"]}]`,
        '',
      ].join('\n'),
    );
    const args = [builtCli, '--json', 'cpi-certify', '--cpi', process.execPath, '--cpi-args', builtLocalCpi, '--properties', properties, '--stemcell', builtStemcellFile(), '--cloud-config', cloudConfig];
    const run = await exec(process.execPath, args, { maxBuffer: 16 * 1024 * 1024 }).then(
      (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
      (e: { code: number; stdout: string; stderr: string }) => e,
    );
    const report = JSON.parse(run.stdout) as CertifyReport;
    const failed = report.checks.filter((c) => c.status === 'failed');
    expect(failed, JSON.stringify(failed, null, 2)).toEqual([]);
    expect(run.code).toBe(0);
    expect(report.passed).toBe(true);
    const names = report.checks.map((c) => c.name);
    for (const n of ['info', 'create_stemcell', 'create_vm', 'create_vm: agent answers ping', 'has_vm (true)', 'set_vm_metadata', 'create_disk', 'attach_disk (first VM)', 'the agent writes a file on the disk', 'detach_disk (first VM)', 'create_vm (second VM)', 'the file is intact on the second VM', 'resize_disk', 'get_disks', 'nothing left behind'])
      expect(names).toContain(n);
    expect(report.checks.find((c) => c.name === 'get_disks')?.detail).toMatch(/^trusted/);
    // The cloud config's manual network gave the addresses: its first two outside the reserved range.
    expect(report.checks.find((c) => c.name === 'create_vm: agent answers ping')?.detail).toContain(`at ${prefix}200 (address from create_vm)`);
    expect(report.checks.find((c) => c.name === 'create_vm (second VM): agent answers ping')?.detail).toContain(`at ${prefix}201 `);
    expect(report.checks.find((c) => c.name === 'snapshot_disk (optional)')?.status).toBe('not_supported');
    expect(await readdir(join(cloudDir, 'vms'))).toEqual([]);
    expect((await readdir(join(cloudDir, 'disks'))).filter((f) => !f.startsWith('.'))).toEqual([]);
    expect(await readdir(join(cloudDir, 'stemcells'))).toEqual([]);
  }, 600_000);

  it('certifies a docker-CPI-like CPI: BOSH-format settings, no VM address (a heartbeat tells it), directory disks, the VM recreated on attach', async () => {
    const properties = join(fx.dataDir, 'cpi-properties-bosh.yml');
    const cloudDir = join(fx.dataDir, 'certify-cloud-bosh');
    await writeFile(
      properties,
      JSON.stringify({ data_dir: cloudDir, bridge: fx.bridgeName, subnet: fx.subnet, agent_settings: 'bosh', report_ip: false, disk_kind: 'directory', recreate_vm_on_attach: true }),
    );
    const args = [builtCli, '--json', 'cpi-certify', '--cpi', process.execPath, '--cpi-args', builtLocalCpi, '--properties', properties, '--stemcell', builtStemcellFile(), '--heartbeat-listen', `${fx.hostIp}:0`];
    const run = await exec(process.execPath, args, { maxBuffer: 16 * 1024 * 1024 }).then(
      (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
      (e: { code: number; stdout: string; stderr: string }) => e,
    );
    const report = JSON.parse(run.stdout) as CertifyReport;
    const failed = report.checks.filter((c) => c.status === 'failed');
    expect(failed, JSON.stringify(failed, null, 2)).toEqual([]);
    expect(run.code).toBe(0);
    expect(report.checks.find((c) => c.name === 'create_vm: agent answers ping')?.detail).toMatch(/address from its heartbeat/);
    expect(report.checks.find((c) => c.name === 'attach_disk (first VM)')?.detail).toMatch(/"path":"\/warden-cpi-dev\//);
    expect(report.checks.find((c) => c.name === 'the file is intact on the second VM')?.status).toBe('passed');
    expect(await readdir(join(cloudDir, 'vms'))).toEqual([]);
  }, 600_000);
});
