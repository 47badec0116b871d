/**
 * Manual-network addresses on the local cloud through the director: a cloud config whose manual
 * network lies inside the fixture's local-cloud subnet, one group with static_ips and one
 * without; the VMs get those addresses for real, keep them across `recreate` and a resurrection,
 * scaling down frees a static IP that a second deployment takes at once, and a static IP outside
 * the static range fails before anything changes. Needs root and `npm run build`.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalCloud } from '../../src/cloud/local/local-cloud.js';
import type { InstanceInfo, TaskInfo } from '../../src/common/contracts/api.js';
import { startDirectorFixture, type DirectorFixture } from '../helpers/director-fixture.js';
import { killVm } from '../helpers/vm-faults.js';
import { waitUntil } from '../helpers/waits.js';

const NAME = 'e2e-manual-ips';
const OTHER = 'e2e-manual-ips-2';

describe('manual networks on the local cloud (director allocates the addresses)', () => {
  let d: DirectorFixture;
  let net = '';
  let files = 0;
  const ok = (r: { code: number; stdout: string; stderr: string }): string => {
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    return r.stdout;
  };
  const file = async (text: string): Promise<string> => {
    const f = join(d.fx.dataDir, `manual-${++files}.yml`);
    await writeFile(f, text);
    return f;
  };
  /** db: the last octets of its static IPs (one instance each); web: instances without static IPs. */
  const manifest = (name: string, db: string[], web: number, webNetwork = 'private'): string => `
name: ${name}
update: {canaries: 1, max_in_flight: 3, canary_watch_time: 200-30000, update_watch_time: 200-30000}
instance_groups:
${
  db.length === 0
    ? ''
    : `- name: db
  instances: ${db.length}
  azs: [z1]
  networks: [{name: private, static_ips: [${db.map((h) => `${net}${h}`).join(', ')}]}]
  containers: [{name: app, image: busybox, command: "sleep 1000000", stop_timeout: 1}]
`
}${
  web === 0
    ? ''
    : `- name: web
  instances: ${web}
  azs: [z1]
  networks: [{name: ${webNetwork}}]
  containers: [{name: app, image: busybox, command: "sleep 1000000", stop_timeout: 1}]
`
}`;
  const ips = async (name: string): Promise<Record<string, string | null>> =>
    Object.fromEntries((await d.json<InstanceInfo[]>('-d', name, 'instances')).map((i) => [`${i.group}/${i.index}`, i.ip]));
  const instance = async (name: string, slot: string): Promise<InstanceInfo> => {
    const i = (await d.json<InstanceInfo[]>('-d', name, 'instances')).find((x) => `${x.group}/${x.index}` === slot);
    if (!i?.vmCid) throw new Error(`${slot} has no VM`);
    return i;
  };

  beforeAll(async () => {
    d = await startDirectorFixture({
      images: ['busybox'],
      extraConfig: 'health: {heartbeat_interval: 500ms, agent_timeout: 5s, analyze_interval: 500ms}',
    });
    net = d.fx.hostIp.replace(/\d+$/, '');
    // The fixture's local cloud has a /24 with the bridge (host) at .1: the manual network is that /24.
    const cloudConfig = `
azs: [{name: z1}]
networks:
- name: private
  type: manual
  subnets:
  - {range: ${d.fx.subnet}, gateway: ${d.fx.hostIp}, reserved: ["${net}2 - ${net}19"], static: ["${net}100 - ${net}109"], azs: [z1]}
- name: elsewhere
  subnets: [{range: 10.254.254.0/24, gateway: 10.254.254.1, azs: [z1]}]
`;
    ok(await d.cli('update-cloud-config', await file(cloudConfig), '-n'));
    ok(await d.cli('-d', NAME, 'deploy', await file(manifest(NAME, ['100', '101'], 1)), '-n'));
  }, 240_000);
  afterAll(async () => {
    await d?.cleanup();
  }, 180_000);

  it('gives the VMs their static and allocated addresses (reserved ones skipped)', async () => {
    expect(await ips(NAME)).toEqual({ 'db/0': `${net}100`, 'db/1': `${net}101`, 'web/0': `${net}20` });
    // The address is the VM's own: the director reaches its agent there.
    const r = JSON.parse(ok(await d.cli('--json', '-d', NAME, 'ssh', 'web/0', '-c', 'ip -4 -o addr show eth0'))) as { stdout: string };
    expect(r.stdout).toContain(`${net}20/`);
  }, 60_000);

  it('keeps the addresses across recreate and a resurrection', async () => {
    const before = await instance(NAME, 'web/0');
    ok(await d.cli('-d', NAME, 'recreate', 'web', '-n'));
    const recreated = await instance(NAME, 'web/0');
    expect(recreated.vmCid).not.toBe(before.vmCid);
    expect(recreated.ip).toBe(`${net}20`);

    const db0 = await instance(NAME, 'db/0');
    const view = await LocalCloud.create({ dataDir: d.cloudDir, bridgeName: d.fx.bridgeName, subnet: d.fx.subnet });
    await killVm(view, db0.vmCid as string);
    const after = await waitUntil(
      'db/0 on a new VM',
      async () => {
        const i = await instance(NAME, 'db/0').catch(() => undefined);
        return i?.vmCid && i.vmCid !== db0.vmCid && i.state === 'running' ? i : undefined;
      },
      90_000,
    );
    expect(after.ip).toBe(`${net}100`);
    await waitUntil(
      'the resurrection task to end',
      async () => ((await d.json<TaskInfo[]>('-d', NAME, 'tasks')).every((t) => !['queued', 'processing', 'cancelling'].includes(t.state)) ? true : undefined),
      60_000,
    );
  }, 180_000);

  it('scaling down releases a static IP, which a second deployment takes at once', async () => {
    const taken = await d.cli('-d', OTHER, 'deploy', await file(manifest(OTHER, ['101'], 0)), '-n');
    expect(taken.code).not.toBe(0);
    expect(taken.stdout + taken.stderr).toContain(`static IP ${net}101 is already used by instance db/1 of deployment "${NAME}"`);
    ok(await d.cli('-d', NAME, 'deploy', await file(manifest(NAME, ['100'], 1)), '-n'));
    expect(await ips(NAME)).toEqual({ 'db/0': `${net}100`, 'web/0': `${net}20` });
    ok(await d.cli('-d', OTHER, 'deploy', await file(manifest(OTHER, ['101'], 0)), '-n'));
    expect(await ips(OTHER)).toEqual({ 'db/0': `${net}101` });
  }, 120_000);

  it('refuses a static IP outside the static range before any change, and says when a range lies outside the local cloud', async () => {
    const bad = await d.cli('-d', 'e2e-manual-bad', 'deploy', await file(manifest('e2e-manual-bad', ['50'], 0)), '-n');
    expect(bad.code).not.toBe(0);
    expect(bad.stdout + bad.stderr).toContain(`instance group "db", network "private": static IP ${net}50 is not in the static range`);
    expect((await d.json<TaskInfo[]>('tasks')).filter((t) => t.deployment === 'e2e-manual-bad')).toEqual([]);

    const r = await d.cli('-d', 'e2e-manual-out', 'deploy', await file(manifest('e2e-manual-out', [], 1, 'elsewhere')), '-n');
    expect(r.code).not.toBe(0);
    expect(r.stdout + r.stderr).toContain(`make the manual network's range (and its reserved and static ranges) in the cloud config lie inside ${d.fx.subnet}`);
  }, 60_000);
});
