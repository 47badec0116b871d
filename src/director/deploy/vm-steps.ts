/**
 * Creating and deleting an instance's VM. Each function converges from whatever state a crashed
 * run left: a recorded VM that the cloud lost is forgotten and replaced; deleting a VM that is
 * already gone succeeds.
 */
import { randomUUID } from 'node:crypto';
import { errorMessage } from '../../common/errors.js';
import type { AgentEnv, CreateVmRequest, CreateVmResult, VmNetworks } from '../../cloud/cloud.js';
import type { AgentApi } from '../../common/contracts/agent-protocol.js';
import type { InstanceRecord } from '../../store/store.js';
import type { TaskContext } from '../tasks/task-context.js';
import { waitForAgent } from './agent-wait.js';
import type { InstanceDeps, InstanceTarget } from './instance-deps.js';
import type { PlannedGroup } from './plan.js';
import { withTimeout } from './timeouts.js';

export interface ReadyVm {
  vmCid: string;
  agentId: string;
  ip: string | null;
  agent: AgentApi;
  created: boolean;
}

export function connectAgent(deps: InstanceDeps, r: { vmCid: string | null; agentId: string | null; ip: string | null }): AgentApi | null {
  if (r.vmCid === null || r.agentId === null) return null;
  return deps.agents.connect({ agentId: r.agentId, vmCid: r.vmCid, ip: r.ip });
}

/** Ensures the instance has a VM in the cloud whose agent answers. */
export async function ensureVm(deps: InstanceDeps, ctx: TaskContext, target: InstanceTarget): Promise<ReadyVm> {
  let record = target.record;
  if (record.vmCid !== null && record.agentId !== null) {
    if (await deps.cloud.hasVm(record.vmCid)) {
      const agent = deps.agents.connect({ agentId: record.agentId, vmCid: record.vmCid, ip: record.ip });
      await waitForAgent({
        agent,
        cloud: deps.cloud,
        vmCid: record.vmCid,
        agentId: record.agentId,
        instance: target.name,
        timeoutMs: deps.config.agentWaitTimeoutMs,
        pingIntervalMs: deps.config.agentPingIntervalMs,
        callTimeoutMs: deps.config.agentTimeoutMs,
        checkCancelled: () => ctx.checkCancelled(),
        consoleLog: deps.consoleLog,
      });
      return { vmCid: record.vmCid, agentId: record.agentId, ip: record.ip, agent, created: false };
    }
    ctx.logger.warn('recorded VM is gone from the cloud; creating a new one', { instance: target.name, vmCid: record.vmCid });
    // deleteVm of a VM the cloud no longer has is a no-op for the VM but frees what it still held
    // (its disk attachments), so that the disk can move to the new VM.
    await deps.cloud.deleteVm(record.vmCid);
    await deps.store.vms.delete(record.vmCid);
    await deps.store.instances.setVm(record.id, null);
    record = { ...record, vmCid: null, agentId: null, ip: null };
    target.record = record;
  }
  return createVm(deps, ctx, target);
}

/**
 * The createVm request for a new VM of an instance: a fresh agent id is passed in; its certificate
 * is issued here. Exported for the resurrector, which replaces VMs outside a deploy.
 */
export function buildCreateVmRequest(
  deps: InstanceDeps,
  record: Pick<InstanceRecord, 'id' | 'deployment' | 'group' | 'index'>,
  group: Pick<PlannedGroup, 'cloudProperties' | 'networks' | 'staticIps'>,
  agentId: string,
): CreateVmRequest {
  const credentials = deps.agentCredentials(agentId);
  const env: AgentEnv = {
    directorUrl: deps.config.directorUrl,
    caPem: credentials.caPem,
    certPem: credentials.certPem,
    keyPem: credentials.keyPem,
    ...(credentials.clientCertPem === undefined ? {} : { clientCertPem: credentials.clientCertPem }),
    ...(credentials.directorClientName === undefined ? {} : { directorClientName: credentials.directorClientName }),
    heartbeatIntervalMs: deps.config.heartbeatIntervalMs,
    extra: { deployment: record.deployment, group: record.group, index: record.index, instanceId: record.id },
  };
  if (deps.config.registryHost !== undefined) env.registryHost = deps.config.registryHost;
  // No disk_cids: disks are attached explicitly afterwards (ensurePersistentDisk), so that the
  // director always learns each disk's hint and the order stays createVm → attach → mount.
  return {
    agentId,
    stemcell: deps.config.stemcell,
    cloudProperties: group.cloudProperties,
    networks: networksOf(group, record.index),
    diskCids: [],
    env,
  };
}

async function createVm(deps: InstanceDeps, ctx: TaskContext, target: InstanceTarget): Promise<ReadyVm> {
  const record = target.record;
  const agentId = `agent-${randomUUID()}`;
  deps.creatingAgents.add(agentId);
  let created: CreateVmResult;
  let ip: string | null;
  try {
    created = await deps.cloud.createVm(buildCreateVmRequest(deps, record, target.group, agentId));
    ip = firstIp(created.networks);
    // Recorded at once, so that a crash after this point finds (and reuses or deletes) the VM.
    await deps.store.vms.create({ cid: created.vmCid, agentId, instanceId: record.id, ip });
    await deps.store.instances.setVm(record.id, { vmCid: created.vmCid, agentId, ip });
  } finally {
    deps.creatingAgents.delete(agentId);
  }
  target.record = { ...record, vmCid: created.vmCid, agentId, ip, specHash: null, specJson: null };
  const agent = deps.agents.connect({ agentId, vmCid: created.vmCid, ip });
  await waitForAgent({
    agent,
    cloud: deps.cloud,
    vmCid: created.vmCid,
    agentId,
    instance: target.name,
    timeoutMs: deps.config.agentWaitTimeoutMs,
    pingIntervalMs: deps.config.agentPingIntervalMs,
    callTimeoutMs: deps.config.agentTimeoutMs,
    checkCancelled: () => ctx.checkCancelled(),
    consoleLog: deps.consoleLog,
  });
  await deps.cloud.setVmMetadata(created.vmCid, {
    director: deps.config.name,
    deployment: record.deployment,
    instanceGroup: record.group,
    index: String(record.index),
    id: record.id,
    name: `${record.group}/${record.id}`,
    createdAt: new Date().toISOString(),
  });
  return { vmCid: created.vmCid, agentId, ip, agent, created: true };
}

/** The group's networks with this instance's static address filled in, where the manifest gives one. */
function networksOf(group: Pick<PlannedGroup, 'networks' | 'staticIps'>, index: number): VmNetworks {
  const out: VmNetworks = {};
  for (const [name, n] of Object.entries(group.networks)) {
    const ip = group.staticIps?.[name]?.[index];
    out[name] = ip === undefined ? { ...n } : { ...n, ip };
  }
  return out;
}

function firstIp(networks: Record<string, { ip: string }>): string | null {
  for (const n of Object.values(networks)) if (n.ip !== '') return n.ip;
  return null;
}

/**
 * Deletes the instance's VM: stop containers and unmount disks through the agent (best effort: an
 * unresponsive agent must not block deleting its VM), then delete the VM, which releases its
 * disks. Nothing is detached before: a VM that could not be deleted keeps its disks attached
 * (fencing), and a disk the agent did not unmount is never detached from a live VM. The disks stay recorded as the instance's; only after this returns may
 * a disk be attached elsewhere.
 */
export async function deleteInstanceVm(deps: InstanceDeps, ctx: TaskContext, record: InstanceRecord): Promise<void> {
  if (record.vmCid === null) return;
  const vmCid = record.vmCid;
  const disks = await deps.store.disks.activeForInstance(record.id);
  const agent = connectAgent(deps, record);
  if (agent !== null) {
    const t = deps.config.agentTimeoutMs;
    try {
      // Graceful: each container gets its stop timeout (an unreachable agent fails the call quickly).
      await withTimeout(agent.stop(), deps.config.applyTimeoutMs, 'stop timed out');
      for (const d of disks) await withTimeout(agent.unmountDisk(d.cid), t, 'unmount_disk timed out');
    } catch (err) {
      ctx.logger.warn('agent did not stop/unmount cleanly before VM deletion; deleting the VM anyway', {
        vmCid,
        error: errorMessage(err),
      });
    }
  }
  // deleteVm releases the VM's disk attachments (a CPI's delete_vm does, as BOSH relies on when
  // it resurrects): no detach before it, so a VM that is not deleted keeps its disks.
  await deps.cloud.deleteVm(vmCid);
  for (const d of disks) await deps.store.disks.setHint(d.cid, null);
  await deps.store.vms.delete(vmCid);
  await deps.store.instances.setVm(record.id, null);
}
