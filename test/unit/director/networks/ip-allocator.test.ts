/** The director's IP allocation from manual networks (pure): what is skipped, which subnet, stability, exhaustion, static IPs. */
import { describe, expect, it } from 'vitest';
import { loadCloudConfig } from '../../../../src/manifest/cloud-config.js';
import { allocateAddresses, type AllocGroup, type HeldAddress } from '../../../../src/director/networks/ip-allocator.js';

const config = loadCloudConfig(`
azs: [{name: z1}, {name: z2}]
networks:
- name: private
  subnets:
  - range: 10.0.1.0/24
    gateway: 10.0.1.1
    dns: [10.0.1.53]
    reserved: [10.0.1.2 - 10.0.1.9, 10.0.1.11]
    static: [10.0.1.10, 10.0.1.100 - 10.0.1.102]
    azs: [z1]
    cloud_properties: {subnet: s1}
  - range: 10.0.2.0/29
    gateway: 10.0.2.1
    static: [10.0.2.6]
    azs: [z2]
- name: tiny
  subnets: [{range: 10.0.3.0/29, gateway: 10.0.3.1, reserved: [10.0.3.2 - 10.0.3.4]}]
- {name: dhcp, type: dynamic}
`).config;

const group = (name: string, count: number, networks: AllocGroup['networks'], azs: string[] = [], firstIndex = 0): AllocGroup => ({
  name,
  azs,
  instances: Array.from({ length: count }, (_, i) => ({ id: `${name}-${i + firstIndex}`, index: i + firstIndex, az: azs.length === 0 ? null : (azs[(i + firstIndex) % azs.length] ?? null) })),
  networks,
});
const net = (name: string, staticIps: string[] = [], defaults: string[] = []): AllocGroup['networks'][number] => ({ name, staticIps, default: defaults });
const ips = (r: ReturnType<typeof allocateAddresses>, id: string): string[] => (r.byInstance.get(id) ?? []).map((a) => a.address);

describe('allocateAddresses', () => {
  it('skips the network address, gateway, reserved and static ranges, and gives the settings of the subnet', () => {
    const r = allocateAddresses(config, [group('db', 3, [net('private')], ['z1'])], []);
    expect(r.problems).toEqual([]);
    // .1 gateway, .2-.9 and .11 reserved, .10 static.
    expect(['db-0', 'db-1', 'db-2'].map((id) => ips(r, id))).toEqual([['10.0.1.12'], ['10.0.1.13'], ['10.0.1.14']]);
    expect(r.byInstance.get('db-0')?.[0]).toEqual({
      network: 'private',
      address: '10.0.1.12',
      static: false,
      settings: { type: 'manual', ip: '10.0.1.12', netmask: '255.255.255.0', gateway: '10.0.1.1', dns: ['10.0.1.53'], default: ['dns', 'gateway'], cloudProperties: { subnet: 's1' } },
    });
  });

  it('chooses the subnet by the instance AZ; the manifest default is kept with several networks', () => {
    const r = allocateAddresses(config, [group('web', 2, [net('private', [], ['gateway']), net('dhcp')], ['z1', 'z2'])], []);
    expect(r.problems).toEqual([]);
    expect(ips(r, 'web-0')).toEqual(['10.0.1.12']);
    expect(ips(r, 'web-1')).toEqual(['10.0.2.2']);
    expect(r.byInstance.get('web-1')?.[0]?.settings).toEqual({ type: 'manual', ip: '10.0.2.2', netmask: '255.255.255.248', gateway: '10.0.2.1', default: ['gateway'] });
  });

  it('keeps an instance address across runs and skips addresses other instances hold', () => {
    const held: HeldAddress[] = [
      { network: 'private', address: '10.0.1.12', instanceId: 'other-0', static: false, owner: 'x/0 of deployment "other"' },
      { network: 'private', address: '10.0.1.20', instanceId: 'db-1', static: false, owner: 'db/1 of deployment "demo"' },
    ];
    const r = allocateAddresses(config, [group('db', 3, [net('private')], ['z1'])], held);
    expect(['db-0', 'db-1', 'db-2'].map((id) => ips(r, id))).toEqual([['10.0.1.13'], ['10.0.1.20'], ['10.0.1.14']]);
  });

  it('a released address (no longer held) is given again', () => {
    const first = allocateAddresses(config, [group('db', 2, [net('tiny')])], []);
    expect(['db-0', 'db-1'].map((id) => ips(first, id))).toEqual([['10.0.3.5'], ['10.0.3.6']]);
    // db-0 was deleted: only db-1 still holds its address; a new deployment takes .5.
    const held: HeldAddress[] = [{ network: 'tiny', address: '10.0.3.6', instanceId: 'db-1', static: false, owner: 'db/1 of deployment "demo"' }];
    const second = allocateAddresses(config, [group('web', 1, [net('tiny')])], held);
    expect(ips(second, 'web-0')).toEqual(['10.0.3.5']);
  });

  it('says which network, subnet and AZ ran out, with how many addresses it has and how many are used', () => {
    const r = allocateAddresses(config, [group('db', 3, [net('tiny')])], []);
    expect(r.problems).toEqual([
      'instance group "db", network "tiny": no free address for db/2: subnet 10.0.3.0/29 has 2 address(es) outside its reserved and static ranges, 2 in use; widen the range, shrink reserved or static, or scale down',
    ]);
    const z2 = allocateAddresses(config, [group('db', 8, [net('private')], ['z2'])], []);
    expect(z2.problems).toEqual([
      'instance group "db", network "private": no free address for db/4 in az z2: subnet 10.0.2.0/29 (azs z2) has 4 address(es) outside its reserved and static ranges, 4 in use; widen the range, shrink reserved or static, or scale down (3 more instance(s) of the group need an address too)',
    ]);
  });

  it('gives static IPs only to the group that lists them, stable across runs; new instances take the unused ones', () => {
    const r = allocateAddresses(config, [group('db', 2, [net('private', ['10.0.1.100', '10.0.1.101'])], ['z1'])], []);
    expect(r.problems).toEqual([]);
    expect([ips(r, 'db-0'), ips(r, 'db-1')]).toEqual([['10.0.1.100'], ['10.0.1.101']]);
    expect(r.byInstance.get('db-0')?.[0]?.static).toBe(true);
    // db-0 goes (scale-down), a new db-2 comes: db-1 keeps .101, the new one takes the unused .100.
    const held: HeldAddress[] = [{ network: 'private', address: '10.0.1.101', instanceId: 'db-1', static: true, owner: 'db/1 of deployment "demo"' }];
    const g: AllocGroup = { name: 'db', azs: ['z1'], instances: [{ id: 'db-1', index: 1, az: 'z1' }, { id: 'db-2', index: 2, az: 'z1' }], networks: [net('private', ['10.0.1.101', '10.0.1.100'])] };
    const again = allocateAddresses(config, [g], held);
    expect([ips(again, 'db-1'), ips(again, 'db-2')]).toEqual([['10.0.1.101'], ['10.0.1.100']]);
    // Dynamic instances never get a static address.
    const dyn = allocateAddresses(config, [group('db', 1, [net('private', ['10.0.1.10'])], ['z1']), group('web', 1, [net('private')], ['z1'])], []);
    expect([ips(dyn, 'db-0'), ips(dyn, 'web-0')]).toEqual([['10.0.1.10'], ['10.0.1.12']]);
  });

  it('validates static IPs: one per instance, inside a static range of a subnet of the group AZs, not held by another deployment', () => {
    const held: HeldAddress[] = [{ network: 'private', address: '10.0.1.102', instanceId: 'x-0', static: true, owner: 'x/0 of deployment "other"' }];
    const r = allocateAddresses(
      config,
      [
        group('db', 3, [net('private', ['10.0.1.100', '10.0.1.50'])], ['z1']),
        group('web', 1, [net('private', ['10.0.1.102'])], ['z1']),
        group('api', 1, [net('private', ['10.0.2.6'])], ['z1']),
        group('cache', 1, [net('private', ['10.0.1.3'])]),
        group('db2', 1, [net('private', ['10.0.1.101'])]),
        group('db3', 1, [net('private', ['10.0.1.101'])]),
      ],
      held,
    );
    expect(r.problems).toEqual([
      'instance group "db", network "private": 2 static_ips for 3 instance(s); give exactly one static IP per instance (or none, and the director allocates them)',
      'instance group "db", network "private": static IP 10.0.1.50 is not in the static range of any of the network\'s subnets for the group\'s azs (z1) (subnet 10.0.1.0/24 (azs z1): static 10.0.1.10, 10.0.1.100 - 10.0.1.102); add it to a subnet\'s static range in the cloud config, or choose one inside it',
      'instance group "web", network "private": static IP 10.0.1.102 is already used by instance x/0 of deployment "other"; remove it there first or choose another',
      'instance group "api", network "private": static IP 10.0.2.6 lies in subnet 10.0.2.0/29 (azs z2), which serves none of the group\'s azs (z1)',
      // A reserved address is never static, even inside a static range's neighbourhood.
      'instance group "cache", network "private": static IP 10.0.1.3 is not in the static range of any of the network\'s subnets (subnet 10.0.1.0/24 (azs z1): static 10.0.1.10, 10.0.1.100 - 10.0.1.102; subnet 10.0.2.0/29 (azs z2): static 10.0.2.6); add it to a subnet\'s static range in the cloud config, or choose one inside it',
      'instance group "db3", network "private": static IP 10.0.1.101 is listed by another instance group of this deployment too; give each address to one group',
    ]);
  });

  it('leaves groups without manual networks alone', () => {
    const r = allocateAddresses(config, [group('db', 2, [net('dhcp')]), group('web', 1, [])], []);
    expect(r.problems).toEqual([]);
    expect(r.byInstance.size).toBe(0);
  });
});
