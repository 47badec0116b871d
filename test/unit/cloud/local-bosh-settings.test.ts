/**
 * bosun-local-cpi writing BOSH-format settings (`agent_settings: bosh`) and leaving the VM's
 * address out (`report_ip: false`): the document is what the agent's BOSH-format reader maps back
 * into the same settings a bosun-format document gives.
 */
import { describe, expect, it } from 'vitest';
import { boshToAgentSettings } from '../../../src/agent/settings/bosh-settings.js';
import type { AgentEnv } from '../../../src/cloud/cloud.js';
import { boshSettingsFor, withPersistentDisks } from '../../../src/cloud/local/bosh-settings-file.js';
import { localCloudOptionsFromContext } from '../../../src/cloud/local-cpi/local-cpi-config.js';
import { silentLogger } from '../../../src/common/logger.js';

const env: AgentEnv = { directorUrl: 'https://10.244.0.1:25555', caPem: 'CA', certPem: 'C', keyPem: 'K', heartbeatIntervalMs: 1000 };
const input = { agentId: 'agent-1', vmCid: 'vm-1', networkName: 'default', ip: '10.244.0.9', netmask: '255.255.0.0', disks: { 'disk-1': { path: '/dev/loop3' } }, env };

describe('the local cloud\'s BOSH-format settings', () => {
  it('are read back by the agent into the VM\'s settings', async () => {
    const doc = boshSettingsFor({ ...input, reportIp: true });
    expect(doc.disks?.persistent).toEqual({ 'disk-1': '/dev/loop3' });
    expect(doc.env).toEqual({ bosun: env });
    const s = await boshToAgentSettings(JSON.parse(JSON.stringify(doc)), 'test');
    expect(s).toMatchObject({ agentId: 'agent-1', vmCid: 'vm-1', listen: { host: '10.244.0.9', port: 6868 }, network: { ip: '10.244.0.9', netmask: '255.255.0.0' }, disks: { 'disk-1': { path: '/dev/loop3' } } });
  });

  it('without the address give a dynamic network and listen on every address', () => {
    const doc = boshSettingsFor({ ...input, reportIp: false });
    expect(doc.networks?.['default']).toEqual({ type: 'dynamic', netmask: '255.255.0.0', default: ['dns', 'gateway'], cloud_properties: {} });
    expect(doc.mbus).toBe('https://0.0.0.0:6868');
  });

  it('follow attach and detach in disks.persistent', () => {
    const doc = boshSettingsFor({ ...input, reportIp: true });
    const attached = withPersistentDisks(doc, (d) => ({ ...d, 'disk-2': { path: '/dev/loop4' } }));
    expect(attached.disks?.persistent).toEqual({ 'disk-1': '/dev/loop3', 'disk-2': '/dev/loop4' });
    const detached = withPersistentDisks(attached, ({ 'disk-1': _gone, ...rest }) => rest);
    expect(detached.disks?.persistent).toEqual({ 'disk-2': '/dev/loop4' });
  });

  it('are asked for by the CPI\'s context properties', () => {
    const o = localCloudOptionsFromContext({ data_dir: '/d', agent_settings: 'bosh', report_ip: false }, silentLogger);
    expect(o).toMatchObject({ agentSettings: 'bosh', reportVmAddress: false });
    expect(localCloudOptionsFromContext({ data_dir: '/d' }, silentLogger)).not.toHaveProperty('agentSettings');
    expect(() => localCloudOptionsFromContext({ data_dir: '/d', agent_settings: 'nats' }, silentLogger)).toThrow(/agent_settings/);
  });
});
