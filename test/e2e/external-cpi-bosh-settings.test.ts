/**
 * A third-party CPI's way of making VMs, through bosun-local-cpi: the agent settings in BOSH's
 * format (`agent_settings: bosh`, bosun's part under env.bosun) and create_vm answering no
 * address (`report_ip: false`, a dynamic network, as bosh-docker-cpi does). The agent maps the
 * settings and finds its address on the VM; the director learns it from the heartbeat, reaches the
 * agent there, and `bosun instances` shows it; a resurrection works the same way.
 * The CPI plays API v1: its attach_disk gives no disk hint, and the agent's mount_disk takes the
 * disk from its settings (`disks.persistent`), read again.
 * Needs root, `npm run build` and a built stemcell.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stemcellVmPaths } from '../../src/cloud/local/stemcell-vm.js';
import type { InstanceInfo } from '../../src/common/contracts/api.js';
import type { DirectorFixture } from '../helpers/director-fixture.js';
import { redisManifest } from '../helpers/redis-deployment.js';
import { redisCommand } from '../helpers/redis-resp.js';
import { resurrectKilledVm, startExternalCpiDirector } from '../helpers/external-cpi-director.js';
import { waitUntil } from '../helpers/waits.js';

const NAME = 'e2e-cpi-bosh-settings';

describe('an external CPI writing BOSH-format settings and telling no VM address (bosun-local-cpi)', () => {
  let d: DirectorFixture;
  const ok = (r: { code: number; stdout: string; stderr: string }) => expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
  const instance0 = async (): Promise<InstanceInfo> => {
    const [i] = await d.json<InstanceInfo[]>('-d', NAME, 'instances');
    if (!i?.ip || !i.vmCid) throw new Error(`the instance has no VM or address: ${JSON.stringify(i)}`);
    return i;
  };

  beforeAll(async () => {
    // cpi_api_version 1: create_vm answers a bare cid, attach_disk no hint (the agent finds the disk in its settings).
    d = await startExternalCpiDirector({ agent_settings: 'bosh', report_ip: false, cpi_api_version: 1 });
  }, 180_000);
  afterAll(async () => {
    await d?.cleanup();
  }, 180_000);

  it('deploys: the agent reads BOSH-format settings, the director learns the address from its heartbeat', async () => {
    const file = join(d.fx.dataDir, 'redis.yml');
    await writeFile(file, redisManifest({ name: NAME, diskMiB: 128 }));
    const deploy = await d.cli('-d', NAME, 'deploy', file, '-n');
    expect(deploy.code, `${deploy.stdout}\n${deploy.stderr}\n${(await d.log()).slice(-6000)}`).toBe(0);
    const i = await instance0();
    expect(i.state).toBe('running');
    // The VM's settings are BOSH's, with no address: the agent found it on the VM.
    const settings = JSON.parse(await readFile(stemcellVmPaths(join(d.cloudDir, 'vms', i.vmCid as string)).settings, 'utf8')) as Record<string, unknown>;
    expect(settings).toMatchObject({ agent_id: i.agentId, vm: { name: i.vmCid }, networks: { default: { type: 'dynamic' } } });
    expect(settings).not.toHaveProperty('agentId');
    expect(JSON.stringify(settings['networks'])).not.toContain(i.ip as string);
    // create_vm answered no ip; the address came with a heartbeat.
    expect(await d.log()).toMatch(/address came with its agent's heartbeat/);
    expect(await redisCommand(i.ip as string, 6379, ['SET', 'bosh-key', 'kept'], 5000)).toBe('OK');
    // v1: the director got no disk hint; the disk was mounted from the settings' disks.persistent.
    const log = await d.log();
    expect(log).toMatch(/"method":"attach_disk"/);
    expect(log.split('\n').find((l) => l.includes('"CPI info"'))).toContain('"apiVersion":1');
    expect(settings['disks']).toMatchObject({ persistent: { [i.diskCids?.[0] as string]: expect.stringMatching(/^\/dev\/loop/) } });
    const table = await d.cli('-d', NAME, 'instances');
    ok(table);
    expect(table.stdout).toContain(i.ip as string);
  }, 120_000);

  it('resurrects a VM killed from outside: the new VM\'s address comes from its heartbeat too', async () => {
    const before = await instance0();
    const { after } = await resurrectKilledVm(d, NAME, before, 120_000);
    const value = await waitUntil('redis answering', () => redisCommand(after.ip as string, 6379, ['GET', 'bosh-key'], 2000).catch(() => undefined), 30_000);
    expect(value).toBe('kept');
  }, 200_000);
});
