import { afterEach, describe, expect, it } from 'vitest';
import { processContext } from '../../../src/cli/context.js';
import { certifyCpi } from '../../../src/director/cpi-certify/certify-cpi.js';
import { createFakeCpi, cpiError, ok, type FakeCpi } from '../../helpers/fake-cpi-script.js';
import { runCli } from '../cli/harness.js';

let cpi: FakeCpi | undefined;
afterEach(() => cpi?.cleanup());

describe('bosun cpi-certify against broken CPIs', () => {
  it('fails the named check with what the CPI answered, and still deletes the VM it made', async () => {
    // create_vm "succeeds" but tells no address: no agent can be reached.
    cpi = createFakeCpi({ info: ok({ api_version: 2 }), create_vm: ok(['vm-7', { default: { type: 'dynamic' } }]), delete_vm: ok(null), has_vm: ok(false) });
    const report = await certifyCpi({ cloud: { cpi: cpi.path, cpiArgs: cpi.args }, agentTimeoutMs: 1000, networkCloudProperties: { name: 'certify-net' }, vmCloudProperties: { instance_type: 'small' } });
    expect(report.passed).toBe(false);
    const byName = Object.fromEntries(report.checks.map((c) => [c.name, c]));
    expect(byName['info']?.status).toBe('passed');
    expect(byName['create_stemcell']?.status).toBe('skipped');
    expect(byName['create_vm']?.status).toBe('passed');
    expect(byName['create_vm: agent answers ping']).toMatchObject({ status: 'failed', required: true });
    expect(byName['create_vm: agent answers ping']?.detail).toMatch(/did not tell the VM's address \(create_vm answered networks \{"default":\{"ip":""/);
    expect(byName['delete_vm vm-7']?.status).toBe('passed');
    expect(byName['nothing left behind']?.status).toBe('passed');
    expect(report.checks.every((c) => typeof c.durationMs === 'number')).toBe(true);
    expect(cpi.requests().map((r) => r.method)).toEqual(['info', 'create_vm', 'delete_vm', 'has_vm']);
    const createVm = cpi.requests()[1];
    expect(createVm?.arguments[2]).toEqual({ instance_type: 'small' });
    expect(createVm?.arguments[3]).toMatchObject({ default: { type: 'dynamic', cloud_properties: { name: 'certify-net' } } });
  });

  it('exits 1 from the CLI and names the failing check; --json prints the report', async () => {
    cpi = createFakeCpi({ info: ok({ api_version: 2 }), create_vm: { stderr: 'ERROR - quota check: "password": "pw-77"\n', then: cpiError('VMCreationFailed', 'quota of instances exceeded') } });
    const context = { ...processContext(), stdinIsTty: false };
    const args = ['cpi-certify', '--cpi', cpi.path, ...cpi.args.flatMap((a) => ['--cpi-args', a])];
    const text = await runCli(context, args);
    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(/create_vm\s.*failed/);
    expect(text.stdout).toContain('quota of instances exceeded');
    expect(text.stdout).toContain('FAILED: create_vm');
    expect(text.stdout).toContain('the CPI\'s stderr ended with: ERROR - quota check');
    expect(text.stdout).not.toContain('pw-77');
    const json = await runCli(context, ['--json', ...args]);
    expect(json.code).toBe(1);
    const report = JSON.parse(json.stdout) as { passed: boolean; checks: Array<{ name: string; status: string; detail: string }> };
    expect(report.passed).toBe(false);
    expect(report.checks.find((c) => c.name === 'create_vm')).toMatchObject({ status: 'failed', detail: expect.stringContaining('VMCreationFailed: quota of instances exceeded') });
  });
});
