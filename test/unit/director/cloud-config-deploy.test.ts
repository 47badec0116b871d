/**
 * Deploys against the director's cloud config (the real manifest module on the fake cloud):
 * names resolved before any change, cloud properties merged per instance with its AZ, disk type
 * sizes, and a cloud config change shown in the dry run and rolled as VM replacements.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { CreateVmRequest } from '../../../src/cloud/cloud.js';
import { FakeCloud } from '../../../src/cloud/fake/index.js';
import { Director } from '../../../src/director/director.js';
import { addTestStemcell } from '../../helpers/director-fixtures.js';

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
    config: { dataDir: '/nonexistent', databasePath: ':memory:', directorUrl: 'https://127.0.0.1:25555', ca: { certPem: 'c', keyPem: 'k' }, agentPingIntervalMs: 10, watchPollIntervalMs: 10, agentWaitTimeoutMs: 500 },
    cloud,
    agentConnector: cloud.agentConnector,
    agentCredentials: (id) => ({ caPem: 'c', certPem: id, keyPem: id }),
  });
  await addTestStemcell(director);
  return director;
}

const CLOUD_CONFIG = (cpus: number, diskMiB = 2048): string => `
azs:
- {name: z1, cloud_properties: {zone: a, tags: {az: z1}}}
- {name: z2, cloud_properties: {zone: b}}
vm_types:
- {name: small, cloud_properties: {cpus: ${cpus}, memory: 512, tags: {size: s}}}
vm_extensions:
- {name: lb, cloud_properties: {elb: web, memory: 1024}}
disk_types:
- {name: ssd, disk_size: ${diskMiB}, cloud_properties: {type: gp3}}
networks:
- name: default
  type: manual
  subnets: [{range: 10.0.0.0/24, gateway: 10.0.0.1, azs: [z1, z2]}]
`;

const manifest = (group = ''): string => `
name: demo
update: {canaries: 1, max_in_flight: 2, canary_watch_time: 0-100, update_watch_time: 0-100}
instance_groups:
- name: db
  instances: 3
  azs: [z1, z2]
  vm_type: small
  vm_extensions: [lb]
  persistent_disk_type: ssd
  cloud_properties: {memory: 2048}
  networks: [{name: default}]
${group}  containers:
  - {name: redis, image: "redis:7"}
`;

const createVms = (from = 0): CreateVmRequest[] =>
  (cloud?.calls.slice(from).filter((c) => c.method === 'createVm') as unknown as Array<{ args: [CreateVmRequest] }>).map((c) => c.args[0]);

describe('deploying against the cloud config', () => {
  it('merges az, vm_type, extensions and inline cloud_properties per instance, spreads azs round-robin and sizes the disk by its type', async () => {
    const d = await start();
    await d.updateCloudConfig(CLOUD_CONFIG(1), 'admin');
    const done = await d.tasks.wait((await d.deploy({ manifest: manifest() }, 'admin')).id);
    expect(done.error).toBeNull();
    const vms = createVms();
    expect(vms).toHaveLength(3);
    const byIndex = new Map(vms.map((v) => [(v.env.extra as { index: number }).index, v.cloudProperties]));
    // The inline memory wins over the extension's, which wins over the vm_type's; nested maps merge.
    expect(byIndex.get(0)).toEqual({ zone: 'a', tags: { az: 'z1', size: 's' }, cpus: 1, memory: 2048, elb: 'web' });
    expect(byIndex.get(1)).toEqual({ zone: 'b', tags: { size: 's' }, cpus: 1, memory: 2048, elb: 'web' });
    expect(byIndex.get(2)?.['zone']).toBe('a');
    const instances = await d.listInstances('demo');
    expect(instances.map((i) => [i.index, i.az])).toEqual([[0, 'z1'], [1, 'z2'], [2, 'z1']]);
    const disks = cloud?.calls.filter((c) => c.method === 'createDisk').map((c) => c.args.slice(0, 2));
    expect(disks).toEqual([[2048, { type: 'gp3' }], [2048, { type: 'gp3' }], [2048, { type: 'gp3' }]]);
  });

  it('refuses names the cloud config does not define before any change, naming the group, the key and the names that exist', async () => {
    const d = await start();
    await d.updateCloudConfig(CLOUD_CONFIG(1), 'admin');
    const bad = manifest().replace('vm_type: small', 'vm_type: large').replace('azs: [z1, z2]', 'azs: [z1, z9]').replace('[{name: default}]', '[{name: private}]');
    const err = await d.deploy({ manifest: bad }, 'admin').then(
      () => null,
      (e: unknown) => e as Error,
    );
    expect(err?.message).toBe(
      'Deployment "demo" cannot be deployed; nothing was changed. ' +
        'instance group "db": vm_type "large" is not in the cloud config (vm_types: "small"); ' +
        'instance group "db": azs "z9" is not in the cloud config (azs: "z1", "z2"); ' +
        'instance group "db": network "private" is not in the cloud config (networks: "default"). See `bosun cloud-config`.',
    );
    expect(await d.listTasks({})).toEqual([]);
    expect(cloud?.calls.filter((c) => !['info', 'hasVm'].includes(c.method))).toEqual([]);
    expect(await d.store.deployments.get('demo')).toBeUndefined();
  });

  it('without a cloud config: extensions and disk types are refused with the command that uploads one; vm_type, azs and inline cloud_properties still deploy', async () => {
    const d = await start();
    await expect(d.diff({ manifest: manifest() })).rejects.toThrow(/uses vm_extensions, persistent_disk_type, but the director has no cloud config; upload one with `bosun update-cloud-config FILE`/);
    const plain = manifest().replace(/ {2}vm_extensions.*\n {2}persistent_disk_type.*\n/, '  persistent_disk: 1024\n');
    const done = await d.tasks.wait((await d.deploy({ manifest: plain }, 'admin')).id);
    expect(done.error).toBeNull();
    expect(createVms().map((v) => v.cloudProperties)).toEqual([0, 1, 2].map(() => ({ vm_type: 'small', memory: 2048 })));
    expect((await d.listInstances('demo')).map((i) => i.az)).toEqual(['z1', 'z2', 'z1']);
  });

  it('a cloud config change shows in the dry run and recreates the VMs it changes, keeping their disks; unchanged it touches nothing', async () => {
    const d = await start();
    await d.updateCloudConfig(CLOUD_CONFIG(1), 'admin');
    expect((await d.tasks.wait((await d.deploy({ manifest: manifest() }, 'admin')).id)).error).toBeNull();
    const disksBefore = (await d.listInstances('demo')).map((i) => i.diskCids);
    const calls = cloud?.calls.length ?? 0;
    expect((await d.diff({ manifest: manifest() })).changes).toEqual([]);
    expect((await d.tasks.wait((await d.deploy({ manifest: manifest() }, 'admin')).id)).error).toBeNull();
    expect(createVms(calls)).toEqual([]);

    await d.updateCloudConfig(CLOUD_CONFIG(4), 'admin');
    const diff = await d.diff({ manifest: manifest() });
    expect(diff.changes.map((c) => [c.subject, c.kind])).toEqual([['db/0', 'cloud_config'], ['db/1', 'cloud_config'], ['db/2', 'cloud_config']]);
    expect(diff.text).toContain('~ db/0: cloud_properties: ');
    expect(diff.text).toContain('"cpus":1');
    expect(diff.text).toContain('"cpus":4');
    const before = cloud?.calls.length ?? 0;
    expect((await d.tasks.wait((await d.deploy({ manifest: manifest() }, 'admin')).id)).error).toBeNull();
    const recreated = createVms(before);
    expect(recreated.map((v) => v.cloudProperties['cpus'])).toEqual([4, 4, 4]);
    expect(cloud?.calls.slice(before).filter((c) => c.method === 'deleteVm')).toHaveLength(3);
    expect((await d.listInstances('demo')).map((i) => i.diskCids)).toEqual(disksBefore);
    expect((await d.diff({ manifest: manifest() })).changes).toEqual([]);
  });

  it('a disk type resized in the cloud config shows in the dry run as the disk size change it is', async () => {
    const d = await start();
    await d.updateCloudConfig(CLOUD_CONFIG(1), 'admin');
    expect((await d.tasks.wait((await d.deploy({ manifest: manifest() }, 'admin')).id)).error).toBeNull();
    await d.updateCloudConfig(CLOUD_CONFIG(1, 4096), 'admin');
    const diff = await d.diff({ manifest: manifest() });
    expect(diff.changes.map((c) => `${c.subject} ${c.kind}: ${c.summary}`)).toEqual([
      'db/0 disk_size: persistent disk 2048 MiB → 4096 MiB',
      'db/1 disk_size: persistent disk 2048 MiB → 4096 MiB',
      'db/2 disk_size: persistent disk 2048 MiB → 4096 MiB',
    ]);
  });
});
