/**
 * Addresses of manual networks through the real Director on the fake cloud: each createVm gets
 * the instance's reserved address and its subnet's settings; recreate and cloud-check's
 * recreate_vm keep it; a changed static IP shows in the dry run and recreates the VM; scale-down
 * and delete-deployment release addresses another deployment takes at once; bad static IPs fail
 * before any change.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { CreateVmRequest, VmNetworks } from '../../../../src/cloud/cloud.js';
import { FakeCloud } from '../../../../src/cloud/fake/index.js';
import { Director } from '../../../../src/director/director.js';
import { addTestStemcell } from '../../../helpers/director-fixtures.js';

let director: Director | undefined;
let cloud: FakeCloud | undefined;
afterEach(async () => {
  await director?.close();
  cloud?.shutdown();
  director = undefined;
});

async function start(): Promise<Director> {
  cloud = new FakeCloud({ unresponsiveTimeoutMs: 100, heartbeatIntervalMs: 60_000 });
  director = await Director.create({
    config: { dataDir: '/nonexistent', databasePath: ':memory:', directorUrl: 'https://127.0.0.1:25555', ca: { certPem: 'c', keyPem: 'k' }, agentPingIntervalMs: 10, watchPollIntervalMs: 10, agentWaitTimeoutMs: 500, agentCallTimeoutMs: 200 },
    cloud,
    agentConnector: cloud.agentConnector,
    agentCredentials: (id) => ({ caPem: 'c', certPem: id, keyPem: id }),
  });
  await addTestStemcell(director);
  await director.updateCloudConfig(CLOUD_CONFIG, 'admin');
  return director;
}

const CLOUD_CONFIG = `
azs: [{name: z1}, {name: z2}]
networks:
- name: private
  subnets:
  - {range: 10.9.1.0/24, gateway: 10.9.1.1, dns: [10.9.1.53], reserved: [10.9.1.2 - 10.9.1.9], static: [10.9.1.100 - 10.9.1.109], azs: [z1], cloud_properties: {subnet: a}}
  - {range: 10.9.2.0/24, gateway: 10.9.2.1, reserved: [10.9.2.2 - 10.9.2.9], static: [10.9.2.100 - 10.9.2.109], azs: [z2]}
- {name: dhcp, type: dynamic, dns: [8.8.8.8], cloud_properties: {dhcp: true}}
`;

const manifest = (name: string, db: { instances: number; ips: string[] }, web = 2): string => `
name: ${name}
update: {canaries: 1, max_in_flight: 4, canary_watch_time: 0-100, update_watch_time: 0-100}
instance_groups:
- name: db
  instances: ${db.instances}
  azs: [z1]
  persistent_disk: 1024
  networks: [{name: private, static_ips: [${db.ips.join(', ')}]}]
  containers: [{name: redis, image: "redis:7"}]
${
  web === 0
    ? ''
    : `- name: web
  instances: ${web}
  azs: [z1, z2]
  networks: [{name: private, default: [dns, gateway]}, {name: dhcp}]
  containers: [{name: web, image: "busybox"}]
`
}`;

const createVms = (from = 0): CreateVmRequest[] =>
  (cloud?.calls.slice(from).filter((c) => c.method === 'createVm') as unknown as Array<{ args: [CreateVmRequest] }>).map((c) => c.args[0]);
const nameOf = (r: CreateVmRequest): string => {
  const e = r.env.extra as { group: string; index: number };
  return `${e.group}/${e.index}`;
};
const byName = (reqs: CreateVmRequest[]): Record<string, VmNetworks> => Object.fromEntries(reqs.map((r) => [nameOf(r), r.networks]));

async function deploy(d: Director, text: string): Promise<void> {
  const done = await d.tasks.wait((await d.deploy({ manifest: text }, 'admin')).id);
  if (done.error !== null) throw new Error(`deploy failed: ${done.error}`);
}
const ipsOf = async (d: Director, deployment: string): Promise<Record<string, string | null>> =>
  Object.fromEntries((await d.listInstances(deployment)).map((i) => [`${i.group}/${i.index}`, i.ip]));

describe('manual networks through the director', () => {
  it('gives each VM its reserved address with the subnet settings, the default, and dynamic networks their type', async () => {
    const d = await start();
    await deploy(d, manifest('demo', { instances: 2, ips: ['10.9.1.100', '10.9.1.101'] }));
    const nets = byName(createVms());
    expect(nets['db/0']).toEqual({
      private: { type: 'manual', ip: '10.9.1.100', netmask: '255.255.255.0', gateway: '10.9.1.1', dns: ['10.9.1.53'], default: ['dns', 'gateway'], cloudProperties: { subnet: 'a' } },
    });
    expect(nets['web/1']).toEqual({
      private: { type: 'manual', ip: '10.9.2.10', netmask: '255.255.255.0', gateway: '10.9.2.1', default: ['dns', 'gateway'] },
      dhcp: { type: 'dynamic', ip: '', netmask: '', dns: ['8.8.8.8'], cloudProperties: { dhcp: true } },
    });
    expect(nets['web/0']?.['private']?.ip).toBe('10.9.1.10');
    expect(await ipsOf(d, 'demo')).toEqual({ 'db/0': '10.9.1.100', 'db/1': '10.9.1.101', 'web/0': '10.9.1.10', 'web/1': '10.9.2.10' });
    // Unchanged: nothing to do.
    expect((await d.diff({ manifest: manifest('demo', { instances: 2, ips: ['10.9.1.100', '10.9.1.101'] }) })).changes).toEqual([]);
  });

  it('recreate and cloud-check recreate_vm keep the addresses', async () => {
    const d = await start();
    const text = manifest('demo', { instances: 2, ips: ['10.9.1.100', '10.9.1.101'] });
    await deploy(d, text);
    const before = await ipsOf(d, 'demo');
    let from = cloud?.calls.length ?? 0;
    expect((await d.tasks.wait((await d.runJob('demo', { action: 'recreate' }, 'admin')).id)).error).toBeNull();
    expect(createVms(from)).toHaveLength(4);
    expect(await ipsOf(d, 'demo')).toEqual(before);
    const [db0] = await d.listInstances('demo');
    cloud?.loseVm(db0?.vmCid ?? '');
    from = cloud?.calls.length ?? 0;
    const fixed = await d.tasks.wait((await d.cloudCheck('demo', { auto: true }, 'admin')).id);
    expect(fixed.error).toBeNull();
    expect(createVms(from).map((r) => [nameOf(r), r.networks['private']?.ip])).toEqual([['db/0', '10.9.1.100']]);
    expect(await ipsOf(d, 'demo')).toEqual(before);
  });

  it('a changed static IP shows in the dry run as ip: A -> B and recreates only that VM, keeping its disk', async () => {
    const d = await start();
    await deploy(d, manifest('demo', { instances: 2, ips: ['10.9.1.100', '10.9.1.101'] }));
    const disk = (await d.listInstances('demo')).find((i) => i.group === 'db' && i.index === 1)?.diskCids;
    const moved = manifest('demo', { instances: 2, ips: ['10.9.1.100', '10.9.1.105'] });
    const diff = await d.diff({ manifest: moved });
    expect(diff.text).toContain('~ db/1: ip: 10.9.1.101 -> 10.9.1.105 (the VM is recreated, its persistent disk kept)');
    expect(diff.changes.filter((c) => c.kind === 'cloud_config').map((c) => c.subject)).toEqual(['db/1']);
    const from = cloud?.calls.length ?? 0;
    await deploy(d, moved);
    expect(createVms(from).map(nameOf)).toEqual(['db/1']);
    expect((await ipsOf(d, 'demo'))['db/1']).toBe('10.9.1.105');
    expect((await d.listInstances('demo')).find((i) => i.group === 'db' && i.index === 1)?.diskCids).toEqual(disk);
    // The old address is free: another deployment takes it.
    await deploy(d, manifest('other', { instances: 1, ips: ['10.9.1.101'] }, 0));
    expect(await ipsOf(d, 'other')).toEqual({ 'db/0': '10.9.1.101' });
  });

  it('a static IP one group gives up can go to another group in the same deploy', async () => {
    const d = await start();
    await deploy(d, manifest('demo', { instances: 2, ips: ['10.9.1.100', '10.9.1.101'] }, 0));
    const cache = `- name: cache
  instances: 1
  azs: [z1]
  networks: [{name: private, static_ips: [10.9.1.101]}]
  containers: [{name: cache, image: "busybox"}]
`;
    await deploy(d, manifest('demo', { instances: 2, ips: ['10.9.1.100', '10.9.1.102'] }, 0) + cache);
    expect(await ipsOf(d, 'demo')).toEqual({ 'cache/0': '10.9.1.101', 'db/0': '10.9.1.100', 'db/1': '10.9.1.102' });
  });

  it('scale-down and delete-deployment release addresses that another deployment takes at once', async () => {
    const d = await start();
    await deploy(d, manifest('demo', { instances: 2, ips: ['10.9.1.100', '10.9.1.101'] }));
    const taken = await d.diff({ manifest: manifest('other', { instances: 1, ips: ['10.9.1.101'] }, 0) }).then(
      () => null,
      (e: unknown) => (e as Error).message,
    );
    expect(taken).toBe(
      'Deployment "other" cannot be deployed; nothing was changed. instance group "db", network "private": static IP 10.9.1.101 is already used by instance db/1 of deployment "demo"; remove it there first or choose another.',
    );
    await deploy(d, manifest('demo', { instances: 1, ips: ['10.9.1.100'] }));
    await deploy(d, manifest('other', { instances: 1, ips: ['10.9.1.101'] }, 1));
    expect(await ipsOf(d, 'other')).toEqual({ 'db/0': '10.9.1.101', 'web/0': '10.9.1.11' });
    expect((await d.tasks.wait((await d.deleteDeployment('demo', 'admin')).id)).error).toBeNull();
    expect((await d.store.ipReservations.list()).map((r) => r.address)).toEqual(['10.9.1.101', '10.9.1.11']);
    await deploy(d, manifest('third', { instances: 1, ips: ['10.9.1.100'] }, 1));
    expect(await ipsOf(d, 'third')).toEqual({ 'db/0': '10.9.1.100', 'web/0': '10.9.1.10' });
  });

  it('without a cloud config nothing changes: the cloud chooses, static_ips pass by index, nothing is reserved', async () => {
    cloud = new FakeCloud({ unresponsiveTimeoutMs: 100, heartbeatIntervalMs: 60_000 });
    director = await Director.create({
      config: { dataDir: '/nonexistent', databasePath: ':memory:', directorUrl: 'https://127.0.0.1:25555', ca: { certPem: 'c', keyPem: 'k' }, agentPingIntervalMs: 10, watchPollIntervalMs: 10, agentWaitTimeoutMs: 500 },
      cloud,
      agentConnector: cloud.agentConnector,
      agentCredentials: (id) => ({ caPem: 'c', certPem: id, keyPem: id }),
    });
    await addTestStemcell(director);
    await deploy(director, manifest('demo', { instances: 1, ips: ['10.9.1.100'] }));
    expect(byName(createVms())).toEqual({
      'db/0': { private: { ip: '10.9.1.100', netmask: '' } },
      'web/0': { private: { ip: '', netmask: '' }, dhcp: { ip: '', netmask: '' } },
      'web/1': { private: { ip: '', netmask: '' }, dhcp: { ip: '', netmask: '' } },
    });
    expect(await director.store.ipReservations.list()).toEqual([]);
  });

  it('refuses bad static IPs before anything changes, naming group and network', async () => {
    const d = await start();
    const err = await d.deploy({ manifest: manifest('demo', { instances: 2, ips: ['10.9.1.100', '10.9.1.50'] }) }, 'admin').then(
      () => null,
      (e: unknown) => (e as Error).message,
    );
    expect(err).toContain('instance group "db", network "private": static IP 10.9.1.50 is not in the static range');
    expect(await d.listTasks({})).toEqual([]);
    expect(cloud?.calls.filter((c) => c.method === 'createVm')).toEqual([]);
    expect(await d.store.ipReservations.list()).toEqual([]);
  });
});
