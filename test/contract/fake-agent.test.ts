import { afterAll, describe, expect, it } from 'vitest';
import { buildSpec } from '../helpers/instance-spec-builder.js';
import { FakeCloud } from '../../src/cloud/fake/fake-cloud.js';
import { describeAgentApiContract } from './agent-api-contract.js';
import { vmRequest } from './cloud-contract.js';

const cloud = new FakeCloud();
afterAll(() => cloud.shutdown());

describeAgentApiContract('fake agent (fake cloud)', async () => {
  const { vmCid } = await cloud.createVm(vmRequest('contract-agent'));
  return { agent: cloud.agentConnector.connect({ agentId: 'contract-agent', vmCid, ip: null }), agentId: 'contract-agent', vmCid };
});

describe('fake agent DNS answers', () => {
  it('answers from the pushed record set through the agent\'s own resolver, and withdraws its stopped instance at once', async () => {
    const { vmCid } = await cloud.createVm(vmRequest('dns-agent'));
    const api = cloud.agentConnector.connect({ agentId: 'dns-agent', vmCid, ip: null });
    const fake = cloud.agentOfVm(vmCid);
    expect(fake?.resolveDns('redis.db.prod.bosun')?.rcode).toBe('NXDOMAIN');
    await api.apply({ ...buildSpec([{ name: 'redis' }], 'prod'), group: 'db', index: 0 });
    const instance = { deployment: 'prod', group: 'db', index: 0, instanceId: 'i0', address: '10.1.0.1', running: true, containers: [{ name: 'redis', healthy: true, ports: [] }] };
    await api.updateDns({ kind: 'full', set: { version: 1, instances: [instance], aliases: [] } });
    expect(fake?.resolveDns('REDIS.db.prod.bosun')?.answers).toMatchObject([{ type: 'A', address: '10.1.0.1' }]);
    expect(fake?.resolveDns('example.com')).toBeNull();
    await api.stop();
    expect(fake?.resolveDns('redis.db.prod.bosun')?.answers).toEqual([]);
  });
});
