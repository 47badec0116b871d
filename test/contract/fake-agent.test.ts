import { afterAll } from 'vitest';
import { FakeCloud } from '../../src/cloud/fake/fake-cloud.js';
import { describeAgentApiContract } from './agent-api-contract.js';
import { vmRequest } from './cloud-contract.js';

const cloud = new FakeCloud();
afterAll(() => cloud.shutdown());

describeAgentApiContract('fake agent (fake cloud)', async () => {
  const { vmCid } = await cloud.createVm(vmRequest('contract-agent'));
  return { agent: cloud.agentConnector.connect({ agentId: 'contract-agent', vmCid, ip: null }), agentId: 'contract-agent', vmCid };
});
