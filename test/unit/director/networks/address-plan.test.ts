/** When a VM's addresses differ from the planned ones (it is recreated), and the networks a group's VMs are created with. */
import { describe, expect, it } from 'vitest';
import type { VmNetwork } from '../../../../src/cloud/cloud.js';
import { loadCloudConfig } from '../../../../src/manifest/cloud-config.js';
import { addressChange, withReservedAddresses } from '../../../../src/director/networks/address-plan.js';
import { groupVmNetworks } from '../../../../src/director/networks/group-networks.js';

const manual = (ip: string, extra: Partial<VmNetwork> = {}): VmNetwork => ({ type: 'manual', ip, netmask: '255.255.255.0', gateway: '10.0.0.1', ...extra });
const planned = (network: string, ip: string, extra: Partial<VmNetwork> = {}) => ({ network, address: ip, static: false, settings: manual(ip, extra) });

describe('addressChange', () => {
  it('is null without a VM or with the same networks', () => {
    expect(addressChange({ vmCid: null, ip: null, networks: null }, [planned('a', '10.0.0.5')])).toBeNull();
    expect(addressChange({ vmCid: 'vm', ip: '10.0.0.5', networks: { a: manual('10.0.0.5') } }, [planned('a', '10.0.0.5')])).toBeNull();
  });

  it('names the old and new address; another network or other settings count too', () => {
    expect(addressChange({ vmCid: 'vm', ip: '10.0.0.5', networks: { a: manual('10.0.0.5') } }, [planned('a', '10.0.0.6')])).toBe('ip: 10.0.0.5 -> 10.0.0.6');
    expect(addressChange({ vmCid: 'vm', ip: '10.0.0.5', networks: { a: manual('10.0.0.5') } }, [planned('b', '10.0.0.5')])).toMatch(/^networks: /);
    expect(addressChange({ vmCid: 'vm', ip: '10.0.0.5', networks: { a: manual('10.0.0.5') } }, [planned('a', '10.0.0.5', { dns: ['10.0.0.2'] })])).toMatch(/^networks: .*"dns":\["10.0.0.2"\]/);
    expect(addressChange({ vmCid: 'vm', ip: '10.0.0.5', networks: { a: manual('10.0.0.5') } }, [])).toBe('ip: 10.0.0.5 -> (chosen by the cloud)');
  });

  it('a VM from before addresses were recorded (or one the cloud addressed) changes only when its address is not the planned one', () => {
    expect(addressChange({ vmCid: 'vm', ip: '10.0.0.5', networks: null }, [planned('a', '10.0.0.5')])).toBeNull();
    expect(addressChange({ vmCid: 'vm', ip: '10.244.0.2', networks: { default: { ip: '', netmask: '' } } }, [planned('a', '10.0.0.5')])).toBe('ip: 10.244.0.2 -> 10.0.0.5');
    expect(addressChange({ vmCid: 'vm', ip: '10.244.0.2', networks: null }, [])).toBeNull();
  });
});

describe('groupVmNetworks and withReservedAddresses', () => {
  const config = loadCloudConfig(`
networks:
- {name: m, subnets: [{range: 10.0.0.0/24, gateway: 10.0.0.1}]}
- {name: d, type: dynamic, dns: [1.1.1.1], cloud_properties: {x: 1}}
- {name: v, type: vip}
`).config;

  it('types each network from the cloud config, keeps the manifest default, and fills in the reservation', () => {
    const refs = [
      { name: 'm', staticIps: [], default: ['dns', 'gateway'] },
      { name: 'd', staticIps: [], default: [] },
      { name: 'v', staticIps: ['1.2.3.4'], default: [] },
    ];
    const nets = groupVmNetworks(refs, config);
    expect(nets).toEqual({
      m: { ip: '', netmask: '', default: ['dns', 'gateway'] },
      d: { ip: '', netmask: '', type: 'dynamic', dns: ['1.1.1.1'], cloudProperties: { x: 1 } },
      v: { ip: '', netmask: '', type: 'vip' },
    });
    expect(withReservedAddresses(nets, [{ network: 'm', settings: manual('10.0.0.9') }])['m']).toEqual(manual('10.0.0.9'));
    expect(groupVmNetworks([{ name: 'd', staticIps: [], default: [] }], config)['d']?.default).toEqual(['dns', 'gateway']);
    expect(groupVmNetworks([], config)).toEqual({ default: { ip: '', netmask: '' } });
  });
});
