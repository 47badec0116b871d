import { afterAll } from 'vitest';
import { describeAgentApiContract } from '../contract/agent-api-contract.js';
import { createAgentVmEnv, type AgentVmEnv } from '../helpers/agent-vm-fixture.js';

/** The agent API contract against the real agent (dist/, over HTTPS with mutual TLS) in a local-cloud VM. */
let env: AgentVmEnv | undefined;
afterAll(async () => {
  await env?.cleanup();
}, 60_000);

describeAgentApiContract(
  'real agent over HTTPS (local cloud)',
  async () => {
    env = await createAgentVmEnv();
    const vm = await env.createVm();
    // The fixture names each agent after its VM's address.
    return { agent: vm.agent, agentId: `agent-${vm.ip.replace(/\./g, '-')}`, vmCid: vm.vmCid };
  },
  { timeoutMs: 30_000 },
);
