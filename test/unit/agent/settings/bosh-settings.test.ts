/**
 * BOSH-format agent settings (as bosh-cpi-go CPIs write them) mapped into bosun's AgentSettings:
 * each field, the choice of the default network, the address of a dynamic network found on the
 * VM, and the errors for settings a bosun director did not make.
 */
import type { NetworkInterfaceInfo } from 'node:os';
import { describe, expect, it } from 'vitest';
import { parseSettings } from '../../../../src/agent/settings.js';
import { boshToAgentSettings, defaultNetwork, isBoshSettings, listenFromMbus } from '../../../../src/agent/settings/bosh-settings.js';
import { defaultRoutes, discoverVmAddress, hexToIp, type VmAddressProbe } from '../../../../src/agent/settings/vm-address.js';
import { STEMCELL_VM_PATHS } from '../../../../src/common/contracts/agent-settings.js';

const bosun = {
  directorUrl: 'https://10.244.0.1:25555',
  caPem: 'CA',
  certPem: 'CERT',
  keyPem: 'KEY',
  clientCertPem: 'CLIENT',
  directorClientName: 'bosun-director',
  heartbeatIntervalMs: 2000,
  registryHost: '10.244.0.1:5000',
  extra: { deployment: 'd', group: 'g', index: 0, instanceId: 'i-1' },
};

const bosh = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
  agent_id: 'agent-1',
  vm: { name: 'vm-abc' },
  mbus: 'https://mbus:secret@0.0.0.0:6868',
  ntp: [],
  blobstore: null,
  networks: { default: { type: 'manual', ip: '10.244.0.5', netmask: '255.255.0.0', gateway: '10.244.0.1', default: ['dns', 'gateway'], dns: ['8.8.8.8'] } },
  disks: { system: '/dev/sda', ephemeral: null, persistent: {} },
  env: { bosh: {}, bosun },
  ...over,
});

const iface = (address: string, netmask = '255.255.255.0', internal = false): NetworkInterfaceInfo => ({
  address,
  netmask,
  family: 'IPv4',
  mac: '00:00:00:00:00:00',
  internal,
  cidr: null,
});

/** /proc/net/route with a default route via 172.17.0.1 on eth0. */
const ROUTES = [
  'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT',
  'eth0\t00000000\t010011AC\t0003\t0\t0\t0\t00000000\t0\t0\t0',
  'eth0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0',
  '',
].join('\n');

const probe = (routes: string, interfaces: Record<string, NetworkInterfaceInfo[]>): VmAddressProbe => ({
  routes: () => Promise.resolve(routes),
  interfaces: () => interfaces,
});
const dockerVm = probe(ROUTES, { lo: [iface('127.0.0.1', '255.0.0.0', true)], eth0: [iface('172.17.0.3', '255.255.0.0')] });

describe('BOSH-format agent settings', () => {
  it('are told from bosun\'s own by agent_id', () => {
    expect(isBoshSettings(bosh())).toBe(true);
    expect(isBoshSettings({ agentId: 'a' })).toBe(false);
  });

  it('map every field bosun needs', async () => {
    const s = await boshToAgentSettings(bosh({ disks: { persistent: { 'disk-1': '/dev/sdc', 'disk-2': { volume_id: 'vol-9' }, 'disk-3': { path: '/warden-cpi-dev/disk-3' } } } }), 'test', { addressProbe: dockerVm });
    expect(s).toEqual({
      agentId: 'agent-1',
      vmCid: 'vm-abc',
      directorUrl: bosun.directorUrl,
      caPem: 'CA',
      certPem: 'CERT',
      keyPem: 'KEY',
      clientCertPem: 'CLIENT',
      directorClientName: 'bosun-director',
      heartbeatIntervalMs: 2000,
      registryHost: '10.244.0.1:5000',
      listen: { host: '0.0.0.0', port: 6868 },
      network: { ip: '10.244.0.5', netmask: '255.255.0.0', gateway: '10.244.0.1' },
      paths: STEMCELL_VM_PATHS,
      disks: { 'disk-1': { path: '/dev/sdc' }, 'disk-2': { volume_id: 'vol-9', path: '' }, 'disk-3': { path: '/warden-cpi-dev/disk-3' } },
      cgroupParent: '/bosun-vm-abc',
      extra: bosun.extra,
    });
  });

  it('are read by parseSettings from any source, like bosun\'s own', async () => {
    const s = await parseSettings(JSON.stringify(bosh()), 'The settings from the File source', { addressProbe: dockerVm });
    expect(s.agentId).toBe('agent-1');
    expect(s.network.ip).toBe('10.244.0.5');
  });

  it('take the VM cid from vm.name, else vm.id', async () => {
    expect((await boshToAgentSettings(bosh({ vm: { id: 'i-123' } }), 'test')).vmCid).toBe('i-123');
    expect((await boshToAgentSettings(bosh({ vm: { name: 'n', id: 'i' } }), 'test')).vmCid).toBe('n');
    await expect(boshToAgentSettings(bosh({ vm: {} }), 'test')).rejects.toThrow(/name no VM \(neither vm.name nor vm.id\)/);
  });

  it('listen where mbus says, without its user and password, default 0.0.0.0:6868', () => {
    expect(listenFromMbus('https://u:p@10.0.0.9:7000', 'x')).toEqual({ host: '10.0.0.9', port: 7000 });
    expect(listenFromMbus('https://[fd00::5]:6868', 'x')).toEqual({ host: 'fd00::5', port: 6868 });
    expect(listenFromMbus('https://0.0.0.0', 'x')).toEqual({ host: '0.0.0.0', port: 6868 });
    expect(listenFromMbus(undefined, 'x')).toEqual({ host: '0.0.0.0', port: 6868 });
    expect(() => listenFromMbus('nats://nats:secret@10.0.0.1:4222', 'x')).toThrow(/nats:\*\*\*@.*bosun's agent serves HTTPS/);
    expect(() => listenFromMbus('nats://nats:secret@10.0.0.1:4222', 'x')).not.toThrow(/secret/);
  });

  it('choose the network whose default has gateway, else the only one, else the first', () => {
    expect(defaultNetwork({ a: { ip: '1.1.1.1' }, b: { ip: '2.2.2.2', default: ['dns', 'gateway'] } })?.[0]).toBe('b');
    expect(defaultNetwork({ a: { ip: '1.1.1.1', default: ['dns'] }, b: { ip: '2.2.2.2' } })?.[0]).toBe('a');
    expect(defaultNetwork({ only: { ip: '3.3.3.3' } })?.[0]).toBe('only');
    expect(defaultNetwork({})).toBeUndefined();
  });

  it('take the address of a dynamic network from the default-route interface', async () => {
    const s = await boshToAgentSettings(bosh({ networks: { bridge: { type: 'dynamic', default: ['dns', 'gateway'], cloud_properties: { name: 'bosh' } } } }), 'test', { addressProbe: dockerVm });
    expect(s.network).toEqual({ ip: '172.17.0.3', netmask: '255.255.0.0', gateway: '172.17.0.1' });
  });

  it('fail, saying why, when a dynamic network\'s address cannot be found', async () => {
    const twoNics = probe('Iface\tDestination\n', { eth0: [iface('10.0.0.2')], eth1: [iface('10.1.0.2')] });
    await expect(boshToAgentSettings(bosh({ networks: { d: { type: 'dynamic' } } }), 'The settings from the File source', { addressProbe: twoNics })).rejects.toThrow(
      /The settings from the File source: the settings give network "d" \(dynamic\) without an ip.*no default route/,
    );
  });

  it('without env.bosun say the VM was not made by a bosun director (or the CPI drops env)', async () => {
    await expect(boshToAgentSettings(bosh({ env: { bosh: { password: 'x' } } }), 'The settings from the File source')).rejects.toThrow(
      /carry no env\.bosun: this VM was not created by a bosun director, or its CPI does not copy create_vm's env/,
    );
    await expect(boshToAgentSettings(bosh({ env: undefined }), 'x')).rejects.toThrow(/no env\.bosun/);
    await expect(boshToAgentSettings(bosh({ env: { bosun: { directorUrl: 'u' } } }), 'x')).rejects.toThrow(/env\.bosun is invalid \(caPem/);
  });
});

describe('the VM address discovery', () => {
  it('reads /proc/net/route (host-order hex)', () => {
    expect(hexToIp('010011AC')).toBe('172.17.0.1');
    expect(defaultRoutes(ROUTES)).toEqual([{ iface: 'eth0', gateway: '172.17.0.1', metric: 0 }]);
  });

  it('takes the default-route interface over others', async () => {
    const p = probe(ROUTES, { eth1: [iface('10.9.0.2')], eth0: [iface('172.17.0.3', '255.255.0.0')] });
    expect(await discoverVmAddress(p)).toMatchObject({ ip: '172.17.0.3', iface: 'eth0', gateway: '172.17.0.1', how: 'default route' });
  });

  it('without a default route, takes the only non-loopback IPv4 interface (the local cloud\'s VMs)', async () => {
    const p = probe('Iface\tDestination\tGateway\n', { lo: [iface('127.0.0.1', '255.0.0.0', true)], eth0: [iface('10.244.0.7', '255.255.0.0')] });
    expect(await discoverVmAddress(p)).toEqual({ ip: '10.244.0.7', netmask: '255.255.0.0', iface: 'eth0', how: 'only interface' });
  });
});
