/**
 * An instance's VM during a deploy: the one createVm request builder, the ports of the shared
 * replace-VM operation (replace-vm.ts) bound to the director's store, cloud and config, and the
 * steps that converge from whatever state a crashed run left: a recorded VM that the cloud lost
 * is replaced (its disks kept); deleting a VM that is already gone succeeds.
 */
import type { AgentEnv, CreateVmRequest, VmNetworks } from '../../cloud/cloud.js';
import type { AgentApi } from '../../common/contracts/agent-protocol.js';
import type { InstanceRecord, IpReservationRecord, StemcellRecord } from '../../store/store.js';
import { withReservedAddresses } from '../networks/address-plan.js';
import { resolveStemcell, uploadedStemcell } from '../stemcells/stemcell-service.js';
import type { TaskContext } from '../tasks/task-context.js';
import { waitForAgent, waitForAgentAddress } from '../agent-client/agent-wait.js';
import type { InstanceDeps, InstanceTarget, TargetStemcell } from './instance-deps.js';
import type { PlannedGroup } from './plan.js';
import { createVm, deleteVm, replaceVm, type KeptDisk, type ReadyVm, type VmPorts, type VmTimeouts } from './replace-vm.js';
import { storeVmRecords } from './vm-records.js';

export type { ReadyVm } from './replace-vm.js';

/** How long the cloud may keep reporting a VM after deleteVm during a deploy. */
const DEPLOY_VM_DELETE_TIMEOUT_MS = 60_000;
const VM_DELETE_POLL_MS = 200;

export function connectAgent(deps: InstanceDeps, r: { vmCid: string | null; agentId: string | null; ip: string | null }): AgentApi | null {
  if (r.vmCid === null || r.agentId === null) return null;
  return deps.agents.connect({ agentId: r.agentId, vmCid: r.vmCid, ip: r.ip });
}

/** What a new VM of an instance is made of: its group's cloud properties and networks, and the stemcell it boots. */
export type NewVmShape = Pick<PlannedGroup, 'cloudProperties' | 'networks' | 'staticIps'> & { stemcell: StemcellRecord };

/**
 * The stemcell the instance is deployed with (the one its VM booted), for every VM that is not a
 * deploy's: recreate, start, the resurrector, cloud-check. An instance with none recorded gets
 * what the group's manifest names.
 */
export function deployedStemcell(deps: Pick<InstanceDeps, 'store'>, record: Pick<InstanceRecord, 'stemcell'>, group: Pick<PlannedGroup, 'stemcell'>): TargetStemcell {
  return {
    resolve: () => (record.stemcell === null ? resolveStemcell(deps.store, group.stemcell) : uploadedStemcell(deps.store, record.stemcell.name, record.stemcell.version)),
    changed: false,
  };
}

/**
 * The group as a replacement VM of the instance sees it (recreate, start, the resurrector,
 * cloud-check): the cloud properties its VM was created with, else what the cloud config resolves.
 */
export function deployedVmGroup<G extends Pick<PlannedGroup, 'cloudProperties' | 'placements'>>(record: Pick<InstanceRecord, 'index' | 'cloudProperties'> | undefined, group: G): G {
  const cloudProperties = record?.cloudProperties ?? (record === undefined ? undefined : group.placements?.[record.index]?.cloudProperties);
  return cloudProperties === undefined ? group : { ...group, cloudProperties };
}

/** "bosun-debian-12/0.1.0-A", or "(none recorded)". */
export function stemcellLabel(s: { name: string; version: string } | null): string {
  return s === null ? '(none recorded)' : `${s.name}/${s.version}`;
}

/**
 * The createVm request for a new VM of an instance — the only one: deploy, recreate, the
 * resurrector and cloud-check all create VMs from it. A fresh agent id is passed in; its
 * certificate is issued here. `reserved`: the instance's addresses on manual networks (a
 * replacement VM gets the same ones).
 */
export function buildCreateVmRequest(
  deps: Pick<InstanceDeps, 'config' | 'agentCredentials'>,
  record: Pick<InstanceRecord, 'id' | 'deployment' | 'group' | 'index'>,
  group: NewVmShape,
  agentId: string,
  reserved: readonly IpReservationRecord[] = [],
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
  return {
    agentId,
    stemcell: group.stemcell.cid,
    // An external CPI gets it in the context (vm.stemcell.api_version).
    stemcellApiVersion: group.stemcell.apiVersion,
    cloudProperties: group.cloudProperties,
    networks: withReservedAddresses(networksOf(group, record.index), reserved),
    diskCids: [],
    env,
  };
}

/** The deploy's timeouts for the replace-VM operation (the resurrector has its own). */
export function deployVmTimeouts(deps: Pick<InstanceDeps, 'config'>): VmTimeouts {
  return {
    agentCallTimeoutMs: deps.config.agentCallTimeoutMs,
    applyTimeoutMs: deps.config.applyTimeoutMs,
    agentWaitTimeoutMs: deps.config.agentWaitTimeoutMs,
    agentPingIntervalMs: deps.config.agentPingIntervalMs,
    vmDeleteTimeoutMs: DEPLOY_VM_DELETE_TIMEOUT_MS,
    pollIntervalMs: VM_DELETE_POLL_MS,
  };
}

/** The replace-VM operation's ports on the director's store and cloud; new VMs are of `group` (its cloud properties, networks and stemcell). */
export function vmPorts(
  deps: InstanceDeps,
  group: (owner: Pick<InstanceRecord, 'id' | 'deployment' | 'group' | 'index'>) => Promise<NewVmShape>,
  timeouts: VmTimeouts = deployVmTimeouts(deps),
): VmPorts {
  return {
    cloud: deps.cloud,
    agents: deps.agents,
    records: storeVmRecords(deps.store),
    logger: deps.logger,
    directorName: deps.config.name,
    newVmRequest: async (owner, agentId) => buildCreateVmRequest(deps, owner, await group(owner), agentId, await deps.store.ipReservations.forInstance(owner.id)),
    creatingAgents: deps.creatingAgents,
    consoleLog: deps.consoleLog,
    agentAddress: deps.agentAddress,
    timeouts,
  };
}

function targetPorts(deps: InstanceDeps, target: InstanceTarget): VmPorts {
  return vmPorts(deps, async () => ({ ...target.group, stemcell: await target.stemcell.resolve() }));
}

async function keptDisks(deps: InstanceDeps, instanceId: string): Promise<KeptDisk[]> {
  return (await deps.store.disks.activeForInstance(instanceId)).map((d) => ({ cid: d.cid, hint: d.hint }));
}

/** Ensures the instance has a VM in the cloud whose agent answers. */
export async function ensureVm(deps: InstanceDeps, ctx: TaskContext, target: InstanceTarget): Promise<ReadyVm> {
  const record = target.record;
  const ports = targetPorts(deps, target);
  let vm: ReadyVm;
  if (record.vmCid !== null && record.agentId !== null && (await deps.cloud.hasVm(record.vmCid))) {
    const { vmCid, agentId } = record;
    let ip = record.ip;
    if (ip === null) {
      // A VM whose cloud told no address and whose agent had not told it yet (a run stopped before).
      ip = await waitForAgentAddress({
        address: async (id) => (await deps.agentAddress?.(id)) ?? (await deps.store.instances.get(record.id))?.ip ?? null,
        cloud: deps.cloud,
        vmCid,
        agentId,
        instance: target.name,
        timeoutMs: deps.config.agentWaitTimeoutMs,
        intervalMs: Math.min(deps.config.agentPingIntervalMs, 250),
        signal: ctx.signal,
        consoleLog: deps.consoleLog,
      });
      await storeVmRecords(deps.store).learnIp(record.id, vmCid, ip);
      target.record = { ...record, ip };
    }
    const agent = deps.agents.connect({ agentId, vmCid, ip });
    await waitForAgent({
      agent,
      cloud: deps.cloud,
      vmCid: record.vmCid,
      agentId: record.agentId,
      instance: target.name,
      timeoutMs: deps.config.agentWaitTimeoutMs,
      pingIntervalMs: deps.config.agentPingIntervalMs,
      callTimeoutMs: deps.config.agentCallTimeoutMs,
      signal: ctx.signal,
      consoleLog: deps.consoleLog,
    });
    return { vmCid, agentId, ip, agent, created: false };
  }
  if (record.vmCid !== null) {
    ctx.logger.warn('recorded VM is gone from the cloud; creating a new one', { instance: target.name, vmCid: record.vmCid });
    // deleteVm of a VM the cloud no longer has frees what it still held (its disk attachments).
    vm = await replaceVm(ports, record, await keptDisks(deps, record.id), { drain: false, signal: ctx.signal });
  } else {
    vm = await createVm(ports, record, { signal: ctx.signal });
  }
  target.record = { ...record, vmCid: vm.vmCid, agentId: vm.agentId, ip: vm.ip, specHash: null, specJson: null };
  return vm;
}

/** recreate: replaces the instance's VM (drained first), keeping its disks. */
export async function recreateVm(deps: InstanceDeps, ctx: TaskContext, target: InstanceTarget): Promise<ReadyVm> {
  const vm = await replaceVm(targetPorts(deps, target), target.record, await keptDisks(deps, target.record.id), { drain: true, signal: ctx.signal });
  target.record = { ...target.record, vmCid: vm.vmCid, agentId: vm.agentId, ip: vm.ip, specHash: null, specJson: null };
  return vm;
}

/**
 * Deletes the instance's VM (drained first, see replace-vm.ts). The disks stay recorded as the
 * instance's; only after this returns may a disk be attached elsewhere.
 */
export async function deleteInstanceVm(deps: InstanceDeps, ctx: TaskContext, record: InstanceRecord): Promise<void> {
  const ports = vmPorts(deps, () => Promise.reject(new Error('no VM is created while deleting one')));
  await deleteVm(ports, record, await keptDisks(deps, record.id), { drain: true, signal: ctx.signal });
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
