import { describe, expect, it } from 'vitest';
import type { AgentApi, AgentState } from '../../../src/common/contracts/agent-protocol.js';
import type { Cloud } from '../../../src/cloud/cloud.js';
import { FIRST_PING_DELAY_MS, waitForAgent } from '../../../src/director/agent-client/agent-wait.js';
import { InstanceNotRunningError, watchInstance } from '../../../src/director/deploy/watch.js';

const cloud = { hasVm: () => Promise.resolve(true) } as unknown as Cloud;

/** An agent whose ping fails `failures` times, then answers; records when each ping came. */
function bootingAgent(failures: number): { agent: AgentApi; at: number[] } {
  const at: number[] = [];
  const agent = {
    ping: () => {
      at.push(performance.now());
      return at.length > failures ? Promise.resolve('pong' as const) : Promise.reject(new Error('connect ECONNREFUSED'));
    },
  } as unknown as AgentApi;
  return { agent, at };
}

function state(running: boolean): AgentState {
  return {
    agentId: 'a',
    vmCid: 'vm',
    jobState: running ? 'running' : 'starting',
    specHash: 'h',
    stopped: false,
    dockerd: { state: 'running', restarts: 0 },
    containers: [{ name: 'c1', state: running ? 'running' : 'starting' } as AgentState['containers'][number]],
    disks: [],
  };
}

const base = { cloud, vmCid: 'vm-1', agentId: 'agent-1', instance: 'web/0', callTimeoutMs: 1000 };

describe('waiting for an agent', () => {
  it('pings again after 100 ms, then backs off', async () => {
    const { agent, at } = bootingAgent(3);
    await waitForAgent({ ...base, agent, timeoutMs: 5000, pingIntervalMs: 1000 });
    expect(at).toHaveLength(4);
    const gaps = at.slice(1).map((t, i) => t - (at[i] ?? 0));
    // 100, 150, 225 ms; timers may fire late (busy machine), never early.
    expect(gaps[0]).toBeGreaterThanOrEqual(FIRST_PING_DELAY_MS - 5);
    expect(gaps[0]).toBeLessThan(500);
    expect(gaps[1]).toBeGreaterThanOrEqual(145);
    expect(gaps[2]).toBeGreaterThanOrEqual(220);
  });

  it('never waits longer than the ping interval between pings', async () => {
    const { agent, at } = bootingAgent(5);
    await waitForAgent({ ...base, agent, timeoutMs: 5000, pingIntervalMs: 120 });
    const gaps = at.slice(1).map((t, i) => t - (at[i] ?? 0));
    expect(gaps).toHaveLength(5);
    // 100, then capped at 120 instead of 150, 225, 337, 506.
    for (const g of gaps.slice(1)) expect(g).toBeGreaterThanOrEqual(115);
    expect(gaps.slice(1).reduce((a, b) => a + b, 0)).toBeLessThan(1000);
  });

  it('fails with an explanation when the agent never answers', async () => {
    const { agent } = bootingAgent(Infinity);
    await expect(waitForAgent({ ...base, agent, timeoutMs: 300, pingIntervalMs: 1000 })).rejects.toThrow(/did not answer within 0.3 s.*ECONNREFUSED/s);
  });
});

describe('watching an instance', () => {
  it('does not succeed before the min watch time, even when everything runs at once', async () => {
    const agent = { getState: () => Promise.resolve(state(true)) } as unknown as AgentApi;
    const t0 = performance.now();
    await watchInstance({ agent, instance: 'web/0', watch: { minMs: 300, maxMs: 5000 }, pollIntervalMs: 50, callTimeoutMs: 1000 });
    const took = performance.now() - t0;
    expect(took).toBeGreaterThanOrEqual(295);
    expect(took).toBeLessThan(1500);
  });

  it('polls finely after the min watch time and succeeds as soon as everything runs', async () => {
    const t0 = performance.now();
    const agent = { getState: () => Promise.resolve(state(performance.now() - t0 >= 400)) } as unknown as AgentApi;
    await watchInstance({ agent, instance: 'web/0', watch: { minMs: 100, maxMs: 5000 }, pollIntervalMs: 50, callTimeoutMs: 1000 });
    const took = performance.now() - t0;
    expect(took).toBeGreaterThanOrEqual(395);
    expect(took).toBeLessThan(1500);
  });

  it('fails after the max watch time, naming the container that does not run', async () => {
    const agent = { getState: () => Promise.resolve(state(false)), fetchLogs: () => Promise.resolve('boom\n') } as unknown as AgentApi;
    const p = watchInstance({ agent, instance: 'web/0', watch: { minMs: 0, maxMs: 200 }, pollIntervalMs: 50, callTimeoutMs: 1000 });
    await expect(p).rejects.toBeInstanceOf(InstanceNotRunningError);
    await expect(p).rejects.toThrow(/container "c1" is starting/);
  });
});
