import { describe, expect, it } from 'vitest';
import { certifyShapeFrom } from '../../../src/director/cpi-certify/cloud-config-shape.js';
import { loadCloudConfig } from '../../../src/manifest/cloud-config.js';

const shapeOf = (yaml: string) => certifyShapeFrom(loadCloudConfig(yaml).config);

describe('cpi-certify --cloud-config: VMs and disk as a deployment on that cloud config', () => {
  it('takes the first az and vm_type (merged), the first disk type, and two addresses of a manual network, reserved and static skipped', () => {
    const shape = shapeOf(`
azs: [{name: z1, cloud_properties: {zone: a, tags: {team: x}}}, {name: z2}]
vm_types: [{name: small, cloud_properties: {instance_type: t3.small, tags: {size: s}}}]
disk_types: [{name: ssd, disk_size: 2048, cloud_properties: {type: gp3}}]
networks:
- name: public
  type: vip
- name: private
  type: manual
  subnets:
  - range: 10.0.1.0/24
    gateway: 10.0.1.1
    azs: [z2]
  - range: 10.0.0.0/24
    gateway: 10.0.0.1
    dns: [10.0.0.2]
    reserved: [10.0.0.2 - 10.0.0.9]
    static: [10.0.0.10]
    azs: [z1]
    cloud_properties: {subnet: subnet-1}
`);
    expect(shape.vmCloudProperties).toEqual({ zone: 'a', instance_type: 't3.small', tags: { team: 'x', size: 's' } });
    expect(shape.diskCloudProperties).toEqual({ type: 'gp3' });
    expect(shape.diskMiB).toBe(2048);
    expect(shape.networks(0)).toEqual({
      private: { type: 'manual', ip: '10.0.0.11', netmask: '255.255.255.0', gateway: '10.0.0.1', dns: ['10.0.0.2'], default: ['dns', 'gateway'], cloudProperties: { subnet: 'subnet-1' } },
    });
    expect(shape.networks(1).private?.ip).toBe('10.0.0.12');
  });

  it('leaves the address to the CPI on a dynamic network, with its cloud_properties', () => {
    const shape = shapeOf('networks: [{name: dhcp, type: dynamic, dns: [1.1.1.1], cloud_properties: {name: bdcpi-net}}]\n');
    expect(shape.networks(0)).toEqual({ dhcp: { type: 'dynamic', ip: '', netmask: '', dns: ['1.1.1.1'], cloudProperties: { name: 'bdcpi-net' }, default: ['dns', 'gateway'] } });
    expect(shape.diskMiB).toBeUndefined();
  });

  it('refuses a manual network without room for the two VMs, saying why', () => {
    expect(() => shapeOf('networks: [{name: net, subnets: [{range: 10.0.0.0/30, gateway: 10.0.0.1}]}]\n')).toThrow(/network "net" \(subnet 10.0.0.0\/30\) has fewer than 2 addresses outside its reserved and static ranges/);
  });
});
