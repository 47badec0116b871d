/**
 * Replaces the VM of an instance and keeps its persistent disks — the resurrector's and
 * cloud-check's recreate_vm. The order is the point:
 *   1. delete the old VM and wait until the cloud says it is gone (fencing: a disk never moves
 *      while the old VM may still write to it);
 *   2. create the new VM;
 *   3. attach and mount EVERY active persistent disk, and check the agent lists them all;
 *   4. apply the last deployed spec and start the containers (a stopped instance's stay stopped);
 *   5. watch until they run.
 * Any failure throws: a VM whose disk did not attach is never reported healthy (bosh#1660).
 */
import type { Cloud } from '../../cloud/cloud.js';
import type { AgentApi, AgentState } from '../../common/contracts/agent-protocol.js';
import type { AgentConnector } from '../../common/contracts/agent-connector.js';
import type { Logger } from '../../common/logger.js';
import { InternalError, errorMessage } from '../../common/errors.js';
import type { HealthStore, MonitoredInstance, TaskStep, VmRequestBuilder } from '../health/ports.js';
import { instanceName } from '../health/ports.js';
import { pollUntil, withTimeout } from './poll.js';

/** Recreates an instance's VM keeping its disks; returns the new VM cid. */
export interface InstanceRecreator {
  recreate(
    instance: MonitoredInstance,
    log: (step: TaskStep) => void,
  ): Promise<{ vmCid: string; agentId: string }>;
}

export interface FencedRecreatorDeps {
  cloud: Cloud;
  store: Pick<HealthStore, 'setInstanceVm' | 'setDiskHint'>;
  vmRequests: VmRequestBuilder;
  agents: AgentConnector;
  logger: Logger;
  timeouts: {
    vmDeleteTimeoutMs: number;
    agentWaitTimeoutMs: number;
    watchTimeoutMs: number;
    /** One quick agent call (ping, mount_disk, start …); default 10 s. */
    callTimeoutMs?: number;
    /** The agent's apply (image pulls included); default 15 min. */
    applyTimeoutMs?: number;
  };
  /** Polling interval of hasVm / ping / get_state. */
  pollIntervalMs?: number;
  /**
   * Waits until the new VM's agent answers; the director plugs in the deployer's wait, whose
   * timeout error shows the VM's boot log. Default: ping until agentWaitTimeoutMs.
   */
  agentReady?: (agent: AgentApi, vm: { vmCid: string; agentId: string; instance: string }) => Promise<void>;
}

export class FencedVmRecreator implements InstanceRecreator {
  constructor(private readonly deps: FencedRecreatorDeps) {}

  async recreate(
    instance: MonitoredInstance,
    log: (step: TaskStep) => void,
  ): Promise<{ vmCid: string; agentId: string }> {
    const { cloud, store } = this.deps;
    const name = instanceName(instance);
    const poll = this.deps.pollIntervalMs ?? 200;
    const callMs = this.deps.timeouts.callTimeoutMs ?? 10_000;
    const applyMs = this.deps.timeouts.applyTimeoutMs ?? 15 * 60_000;
    const step = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
      log({ stage: `Recreating ${name}`, step: what, state: 'started' });
      try {
        const v = await fn();
        log({ stage: `Recreating ${name}`, step: what, state: 'finished' });
        return v;
      } catch (err) {
        log({ stage: `Recreating ${name}`, step: what, state: 'failed', error: errorMessage(err) });
        throw err;
      }
    };

    const old = instance.vmCid;
    if (old !== null) {
      await step(`Deleting VM ${old}`, async () => {
        await cloud.deleteVm(old);
        await pollUntil(async () => ((await cloud.hasVm(old)) ? undefined : true), {
          timeoutMs: this.deps.timeouts.vmDeleteTimeoutMs,
          intervalMs: poll,
          what: `The cloud still reports VM ${old} of ${name} as existing after deleting it; its disks stay where they are (fencing) — check the VM in the cloud, delete it by hand, then run \`bosun cck\``,
        });
        await store.setInstanceVm(instance.id, null);
      });
    }

    const disks = instance.disks.filter((d) => d.active);
    const request = await this.deps.vmRequests.build(instance);
    // No disk_cids: the disks are attached explicitly below, as the deployer does, so the order is
    // createVm → attachDisk → mount_disk and the director learns every disk's hint.
    const created = await step('Creating VM', () => cloud.createVm({ ...request, diskCids: [] }));
    const vmCid = created.vmCid;
    const ip = Object.values(created.networks).find((n) => n.ip)?.ip ?? null;
    await store.setInstanceVm(instance.id, { vmCid, agentId: request.agentId, ip });
    cloud
      .setVmMetadata(vmCid, {
        deployment: instance.deployment,
        instanceGroup: instance.group,
        index: String(instance.index),
        id: instance.id,
        name,
      })
      .catch((err: unknown) =>
        this.deps.logger.warn(`could not set the metadata of VM ${vmCid}: ${errorMessage(err)}`),
      );

    const agent = this.deps.agents.connect({ agentId: request.agentId, vmCid, ip });
    await step(`Waiting for the agent of VM ${vmCid}`, async () => {
      if (this.deps.agentReady) {
        await this.deps.agentReady(agent, { vmCid, agentId: request.agentId, instance: name });
        return;
      }
      await pollUntil(
        async () => ((await withTimeout(agent.ping(), callMs, 'ping')) === 'pong' ? true : undefined),
        {
          timeoutMs: this.deps.timeouts.agentWaitTimeoutMs,
          intervalMs: poll,
          what: `The agent ${request.agentId} on the new VM ${vmCid} of ${name} did not answer`,
        },
      );
    });

    for (const d of disks) {
      await step(`Attaching disk ${d.diskCid}`, async () => {
        const hint = await cloud.attachDisk(vmCid, d.diskCid);
        await store.setDiskHint(d.diskCid, hint);
        await withTimeout(
          agent.mountDisk({ diskCid: d.diskCid, hint }),
          applyMs,
          `mount_disk of ${d.diskCid} on VM ${vmCid}`,
        );
      });
    }
    if (disks.length > 0) {
      await step('Checking mounted disks', async () => {
        const mounted = new Set(await withTimeout(agent.listDisk(), callMs, `list_disk on VM ${vmCid}`));
        const missing = disks.filter((d) => !mounted.has(d.diskCid)).map((d) => d.diskCid);
        if (missing.length > 0) {
          throw new InternalError(
            `The agent of VM ${vmCid} does not list disk(s) ${missing.join(', ')} as mounted after attaching them; ${name} is not healthy — run \`bosun cck\`.`,
          );
        }
      });
    }

    if (instance.spec) {
      const spec = instance.spec;
      await step('Applying the last deployed spec', async () => {
        // A stopped instance gets its VM back but its containers stay stopped: the agent is told
        // first, so apply creates them without ever starting them.
        if (instance.desired === 'stopped') await withTimeout(agent.stop(), applyMs, `stop on VM ${vmCid}`);
        await withTimeout(agent.apply(spec), applyMs, `apply on VM ${vmCid}`);
        if (instance.desired === 'started') await withTimeout(agent.start(), callMs, `start on VM ${vmCid}`);
      });
      if (instance.desired === 'started' && spec.containers.length > 0) {
        await step('Waiting for the containers to run', () => this.watch(agent, name, poll, callMs));
      }
    }
    return { vmCid, agentId: request.agentId };
  }

  private async watch(agent: AgentApi, name: string, intervalMs: number, callMs: number): Promise<void> {
    let last: AgentState | undefined;
    try {
      await pollUntil(
        async () => {
          last = await withTimeout(agent.getState(), callMs, 'get_state');
          return last.jobState === 'running' ? true : undefined;
        },
        {
          timeoutMs: this.deps.timeouts.watchTimeoutMs,
          intervalMs,
          what: `${name} is not running after recreating its VM`,
        },
      );
    } catch (err) {
      const detail = last?.containers
        .filter((c) => c.state !== 'running')
        .map((c) => `${c.name}: ${c.state}${c.lastError ? ` (${c.lastError})` : ''}`)
        .join('; ');
      throw new InternalError(`${errorMessage(err)}${detail ? `; containers: ${detail}` : ''}`, {
        cause: err,
      });
    }
  }
}
