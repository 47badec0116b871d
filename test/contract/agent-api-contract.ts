/**
 * The one contract of the agent API (src/common/contracts/agent-protocol.ts), run against the real
 * agent over HTTPS (test/e2e/agent-api-contract.test.ts) and against the fake agent the fake cloud
 * hands out (test/contract/fake-agent.test.ts), so that the fake cannot drift from the real one:
 * the same answers, the same typed errors.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { AgentApi } from '../../src/common/contracts/agent-protocol.js';
import type { InstanceSpec } from '../../src/common/contracts/instance-spec.js';
import type { DnsInstance } from '../../src/common/contracts/dns-records.js';
import { BosunError, ConflictError, DnsVersionMismatchError, InvalidInputError, NotFoundError } from '../../src/common/errors.js';
import { buildSpec } from '../helpers/instance-spec-builder.js';

export interface AgentUnderTest {
  agent: AgentApi;
  agentId: string;
  vmCid: string;
}

async function failure(p: Promise<unknown>): Promise<BosunError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, 'the call was expected to fail').toBeInstanceOf(BosunError);
  return err as BosunError;
}

/** `setup` gives a freshly booted agent (nothing applied, no disk); calls run in order on it. */
export function describeAgentApiContract(name: string, setup: () => Promise<AgentUnderTest>, options: { timeoutMs?: number } = {}): void {
  const timeout = options.timeoutMs ?? 5_000;
  describe(`agent API contract: ${name}`, () => {
    let t: AgentUnderTest;
    beforeAll(async () => {
      t = await setup();
    }, 180_000);

    it('answers ping', async () => {
      expect(await t.agent.ping()).toBe('pong');
    });

    it('reports its state before anything was applied', async () => {
      const state = await t.agent.getState();
      expect(state).toMatchObject({ agentId: t.agentId, vmCid: t.vmCid, jobState: 'unknown', specHash: null, stopped: false, containers: [], disks: [] });
      expect(state.dockerd.state).toBe('running');
      expect(await t.agent.listDisk()).toEqual([]);
    });

    it('refuses malformed requests with invalid_input', async () => {
      expect(await failure(t.agent.apply({} as InstanceSpec))).toBeInstanceOf(InvalidInputError);
      expect(await failure(t.agent.mountDisk({ diskCid: 'disk-x' } as Parameters<AgentApi['mountDisk']>[0]))).toBeInstanceOf(InvalidInputError);
      expect(await failure(t.agent.runCommand(''))).toBeInstanceOf(InvalidInputError);
      const migrate = t.agent.migrateDisk;
      if (migrate) {
        expect(await failure(migrate.call(t.agent, { phase: 'bogus' } as unknown as Parameters<typeof migrate>[0]))).toBeInstanceOf(InvalidInputError);
      }
    });

    it('says what it does not have with not_found', async () => {
      const logs = await failure(t.agent.fetchLogs('no-such-container'));
      expect(logs).toBeInstanceOf(NotFoundError);
      expect(logs.message).toMatch(/no-such-container/);
      const mount = await failure(t.agent.mountDisk({ diskCid: 'disk-not-attached', hint: { path: '/dev/bosun-contract-none' } }));
      expect(mount).toBeInstanceOf(NotFoundError);
      expect(mount.message).toMatch(/disk-not-attached/);
    }, timeout);

    it('unmounting a disk that is not mounted is a no-op', async () => {
      await t.agent.unmountDisk('disk-never-mounted');
      expect(await t.agent.listDisk()).toEqual([]);
    });

    it('refuses a disk migration without the disks mounted with conflict', async () => {
      const migrate = t.agent.migrateDisk;
      if (!migrate) return;
      expect(await failure(migrate.call(t.agent, { phase: 'copy' }))).toBeInstanceOf(ConflictError);
    }, timeout);

    it('applies a spec, then stops and starts on request', async () => {
      const spec = buildSpec([]);
      await t.agent.apply(spec);
      expect(await t.agent.getState()).toMatchObject({ specHash: spec.specHash, jobState: 'running', stopped: false });
      await t.agent.stop();
      expect(await t.agent.getState()).toMatchObject({ jobState: 'stopped', stopped: true });
      await t.agent.start();
      expect(await t.agent.getState()).toMatchObject({ jobState: 'running', stopped: false });
    }, 120_000);

    it('takes DNS pushes: a full set, a delta on it; a stale push is ignored; a mismatched delta is refused with its version', async () => {
      const db = (index: number, address: string): DnsInstance => ({
        deployment: 'contract',
        group: 'db',
        index,
        instanceId: `db-${index}`,
        address,
        running: true,
        containers: [{ name: 'redis', healthy: true, ports: [{ port: 6379, protocol: 'tcp' }] }],
      });
      expect(await t.agent.getDns()).toEqual({ version: 0, set: { version: 0, instances: [], aliases: [] } });
      const full = { version: 3, instances: [db(0, '10.9.0.1')], aliases: [{ name: 'cache.contract.bosun', target: 'redis.db.contract.bosun' }] };
      expect(await t.agent.updateDns({ kind: 'full', set: full })).toEqual({ version: 3 });
      expect(await t.agent.getDns()).toEqual({ version: 3, set: full });
      expect(await t.agent.updateDns({ kind: 'delta', baseVersion: 3, version: 4, upsert: [db(1, '10.9.0.2')], remove: [{ deployment: 'contract', group: 'db', index: 0 }] })).toEqual({ version: 4 });
      const after = await t.agent.getDns();
      expect(after.version).toBe(4);
      expect(after.set.instances).toEqual([db(1, '10.9.0.2')]);
      expect(after.set.aliases).toEqual(full.aliases);
      // Older than what the agent has: acknowledged with the agent's version, changes nothing.
      expect(await t.agent.updateDns({ kind: 'full', set: { version: 2, instances: [], aliases: [] } })).toEqual({ version: 4 });
      expect(await t.agent.updateDns({ kind: 'delta', baseVersion: 1, version: 2, upsert: [], remove: [] })).toEqual({ version: 4 });
      expect((await t.agent.getDns()).set.instances).toEqual([db(1, '10.9.0.2')]);
      const mismatch = await failure(t.agent.updateDns({ kind: 'delta', baseVersion: 2, version: 9, upsert: [], remove: [] }));
      expect(mismatch).toBeInstanceOf(DnsVersionMismatchError);
      expect(mismatch).toMatchObject({ code: 'dns_version_mismatch', httpStatus: 409, details: { version: 4 } });
      expect(await failure(t.agent.updateDns({ kind: 'delta' } as unknown as Parameters<AgentApi['updateDns']>[0]))).toBeInstanceOf(InvalidInputError);
      expect((await t.agent.getDns()).version).toBe(4);
    }, timeout);

    it('does not start a long action whose signal already aborted, and rejects with its reason', async () => {
      const controller = new AbortController();
      controller.abort(new Error('the director gave up'));
      await expect(t.agent.stop({ signal: controller.signal })).rejects.toThrow('the director gave up');
      expect((await t.agent.getState()).stopped).toBe(false);
    });
  });
}
