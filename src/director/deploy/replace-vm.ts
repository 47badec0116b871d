/**
 * Replacing an instance's VM, keeping its disks: the one path that deploy (--recreate, or a VM
 * the cloud lost), `recreate`, the resurrector and cloud-check's recreate_vm all take. The order
 * is the point:
 *   1. delete the old VM (its agent drained first when it is expected to answer) and wait until
 *      the cloud says it is gone — fencing: a disk never moves while the old VM may still write;
 *   2. create the new VM from the one request builder (vm-steps.ts), record it at once
 *      (vm-records.ts), wait for its agent, set its metadata;
 *   3. attach and mount every active persistent disk, and check the agent lists them all.
 * Applying the spec and starting follow in converge.ts, the same for every caller. Any failure
 * throws: a VM whose disk did not attach is never reported healthy (bosh#1660).
 */
import { randomUUID } from 'node:crypto';
import type { Cloud, CreateVmRequest, CreateVmResult } from '../../cloud/cloud.js';
import type { AgentConnector } from '../../common/contracts/agent-connector.js';
import type { AgentApi } from '../../common/contracts/agent-protocol.js';
import type { DiskHint } from '../../common/contracts/disk-hint.js';
import { InternalError, errorMessage } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';
import { pollUntil, throwIfAborted, withDeadline } from '../../common/waiting.js';
import { waitForAgent, waitForAgentAddress, type AgentAddressSource, type ConsoleLogReader } from '../agent-client/agent-wait.js';
import { agentAfterDiskChange } from '../disks/agent-after-disk-change.js';
import type { InstanceVm, VmRecords } from './vm-records.js';

/** The instance whose VM is replaced, as much as this needs of it. */
export interface VmOwner {
  id: string;
  deployment: string;
  group: string;
  index: number;
  vmCid: string | null;
  agentId: string | null;
  ip: string | null;
}

/** A persistent disk the instance keeps across the replacement. */
export interface KeptDisk {
  cid: string;
  hint: DiskHint | null;
}

export interface ReadyVm extends InstanceVm {
  agent: AgentApi;
  created: boolean;
}

export interface VmTimeouts {
  /** One quick agent call (ping, list_disk, get_state). */
  agentCallTimeoutMs: number;
  /** A long agent action (stop, mount_disk, apply, start). */
  applyTimeoutMs: number;
  /** How long a new VM's agent may take to answer. */
  agentWaitTimeoutMs: number;
  agentPingIntervalMs: number;
  /** How long the cloud may keep reporting a deleted VM. */
  vmDeleteTimeoutMs: number;
  /** Interval of the hasVm poll after deleteVm. */
  pollIntervalMs: number;
}

export interface VmPorts {
  cloud: Cloud;
  agents: AgentConnector;
  records: VmRecords;
  logger: Logger;
  directorName: string;
  /** The createVm request of a new VM of the instance (buildCreateVmRequest in production). */
  newVmRequest(owner: VmOwner, agentId: string): CreateVmRequest | Promise<CreateVmRequest>;
  /** Agent ids whose VM is being created: their first heartbeats are not "unknown agents". */
  creatingAgents?: Set<string> | undefined;
  consoleLog?: ConsoleLogReader | undefined;
  /** The address a VM's agent heartbeats tell, for a VM whose cloud gave none (HeartbeatIntake.addressOf). */
  agentAddress?: AgentAddressSource | undefined;
  timeouts: VmTimeouts;
}

/** Runs one named part of the work (the resurrector logs each as a task event). */
export type StepRunner = <T>(what: string, fn: () => Promise<T>) => Promise<T>;

export interface VmOptions {
  /** Stop the containers and unmount the disks through the old agent first (best effort). */
  drain: boolean;
  signal?: AbortSignal | undefined;
  step?: StepRunner | undefined;
}

const direct: StepRunner = (_what, fn) => fn();

export function instanceLabel(o: Pick<VmOwner, 'group' | 'index'>): string {
  return `${o.group}/${o.index}`;
}

export async function replaceVm(ports: VmPorts, owner: VmOwner, disks: readonly KeptDisk[], options: VmOptions): Promise<ReadyVm> {
  await deleteVm(ports, owner, disks, options);
  throwIfAborted(options.signal);
  const vm = await createVm(ports, { ...owner, vmCid: null, agentId: null, ip: null }, options);
  throwIfAborted(options.signal);
  await attachDisks(ports, owner, vm, disks, options);
  return vm;
}

/**
 * Deletes the instance's VM and forgets it once the cloud no longer reports it. With `drain`, the
 * agent first stops the containers and unmounts the disks (an agent that does not answer must not
 * block deleting its VM). Nothing is detached before deleteVm: deleting the VM releases its
 * disks, so a VM that could not be deleted keeps them, and a disk still mounted on a live VM is
 * never detached from under it.
 */
export async function deleteVm(ports: VmPorts, owner: VmOwner, disks: readonly KeptDisk[], options: VmOptions): Promise<void> {
  const vmCid = owner.vmCid;
  if (vmCid === null) return;
  const step = options.step ?? direct;
  const t = ports.timeouts;
  if (options.drain && owner.agentId !== null) {
    try {
      // Inside the try: a VM whose address is not known (its agent never told it) cannot be drained, but is deleted.
      const agent = ports.agents.connect({ agentId: owner.agentId, vmCid, ip: owner.ip });
      // Graceful: each container gets its stop timeout (an unreachable agent fails the call quickly).
      await withDeadline(t.applyTimeoutMs, `stop on ${instanceLabel(owner)}`, (signal) => agent.stop({ signal }), options.signal);
      for (const d of disks) {
        await withDeadline(t.agentCallTimeoutMs, `unmount_disk ${d.cid} on ${instanceLabel(owner)}`, (signal) => agent.unmountDisk(d.cid, { signal }), options.signal);
      }
    } catch (err) {
      throwIfAborted(options.signal);
      ports.logger.warn('agent did not stop/unmount cleanly before VM deletion; deleting the VM anyway', { vmCid, error: errorMessage(err) });
    }
  }
  await step(`Deleting VM ${vmCid}`, async () => {
    await ports.cloud.deleteVm(vmCid);
    await pollUntil(async () => ((await ports.cloud.hasVm(vmCid)) ? undefined : true), {
      timeoutMs: t.vmDeleteTimeoutMs,
      intervalMs: t.pollIntervalMs,
      what: `The cloud still reports VM ${vmCid} of ${instanceLabel(owner)} as existing after deleting it; its disks stay where they are (fencing) — check the VM in the cloud, delete it by hand, then run \`bosun cck\``,
      signal: options.signal,
    });
    for (const d of disks) await ports.records.setDiskHint(d.cid, null);
    await ports.records.setInstanceVm(owner.id, null);
  });
}

/** Creates a VM for an instance that has none, records it at once, waits for its agent and sets its metadata. */
export async function createVm(ports: VmPorts, owner: VmOwner, options: Omit<VmOptions, 'drain'>): Promise<ReadyVm> {
  const step = options.step ?? direct;
  const agentId = `agent-${randomUUID()}`;
  const request = await ports.newVmRequest(owner, agentId);
  ports.creatingAgents?.add(agentId);
  let vm: InstanceVm;
  try {
    // No disk_cids: disks are attached explicitly afterwards, so that the order stays
    // createVm → attach → mount and the director learns every disk's hint.
    const created: CreateVmResult = await step('Creating VM', () => ports.cloud.createVm({ ...request, diskCids: [] }));
    vm = { vmCid: created.vmCid, agentId, ip: firstIp(created.networks) };
    // Recorded at once, so that a crash after this point finds (and reuses or deletes) the VM.
    await ports.records.setInstanceVm(owner.id, { ...vm, stemcellCid: request.stemcell, cloudProperties: request.cloudProperties, networks: request.networks });
  } finally {
    ports.creatingAgents?.delete(agentId);
  }
  const t = ports.timeouts;
  const deadline = Date.now() + t.agentWaitTimeoutMs;
  if (vm.ip === null) {
    // A dynamic network whose cloud answered no IP: the agent's first heartbeat tells it.
    const created = vm;
    ports.logger.info("the cloud told no address for the new VM: waiting for its agent's heartbeat to tell it", { vmCid: created.vmCid, agentId });
    const ip = await step(`Waiting for the address of VM ${created.vmCid} (its agent's heartbeat)`, () =>
      waitForAgentAddress({
        address: ports.agentAddress,
        cloud: ports.cloud,
        vmCid: created.vmCid,
        agentId,
        instance: instanceLabel(owner),
        timeoutMs: t.agentWaitTimeoutMs,
        intervalMs: Math.min(t.agentPingIntervalMs, 250),
        signal: options.signal,
        consoleLog: ports.consoleLog,
      }),
    );
    await ports.records.learnIp(owner.id, created.vmCid, ip);
    ports.logger.info("the new VM's address came with its agent's heartbeat", { vmCid: created.vmCid, ip });
    vm = { ...created, ip };
  }
  const agent = ports.agents.connect(vm);
  const ready = vm;
  await step(`Waiting for the agent of VM ${ready.vmCid}`, () =>
    waitForAgent({
      agent,
      cloud: ports.cloud,
      vmCid: ready.vmCid,
      agentId,
      instance: instanceLabel(owner),
      timeoutMs: Math.max(1, deadline - Date.now()),
      pingIntervalMs: t.agentPingIntervalMs,
      callTimeoutMs: t.agentCallTimeoutMs,
      signal: options.signal,
      consoleLog: ports.consoleLog,
    }),
  );
  await ports.cloud.setVmMetadata(vm.vmCid, {
    director: ports.directorName,
    deployment: owner.deployment,
    instanceGroup: owner.group,
    index: String(owner.index),
    id: owner.id,
    name: `${owner.group}/${owner.id}`,
    createdAt: new Date().toISOString(),
  });
  return { ...vm, agent, created: true };
}

/**
 * Attaches and mounts each kept disk on the new VM, then checks that the agent lists them all.
 * After each attach the agent is waited for again: a CPI may recreate the VM to attach a disk
 * (the docker CPI does), which also loses the mounts of the disks attached before, so those are
 * mounted again. The spec is applied afterwards by every caller (converge.ts).
 */
export async function attachDisks(ports: VmPorts, owner: VmOwner, vm: ReadyVm, disks: readonly KeptDisk[], options: Omit<VmOptions, 'drain'>): Promise<void> {
  const step = options.step ?? direct;
  const t = ports.timeouts;
  const done: Array<{ cid: string; hint: DiskHint }> = [];
  for (const d of disks) {
    await step(`Attaching disk ${d.cid}`, async () => {
      const hint = await ports.cloud.attachDisk(vm.vmCid, d.cid);
      await ports.records.setDiskHint(d.cid, hint);
      done.push({ cid: d.cid, hint });
      const state = await agentAfterDiskChange({
        agent: vm.agent,
        cloud: ports.cloud,
        vmCid: vm.vmCid,
        agentId: vm.agentId,
        instance: instanceLabel(owner),
        timeouts: t,
        signal: options.signal,
        consoleLog: ports.consoleLog,
      });
      for (const m of done.filter((x) => !state.disks.includes(x.cid))) {
        await withDeadline(t.applyTimeoutMs, `mount_disk of ${m.cid} on VM ${vm.vmCid}`, (signal) => vm.agent.mountDisk({ diskCid: m.cid, hint: m.hint }, { signal }), options.signal);
      }
    });
  }
  if (disks.length === 0) return;
  await step('Checking mounted disks', async () => {
    const mounted = new Set(await withDeadline(t.agentCallTimeoutMs, `list_disk on VM ${vm.vmCid}`, () => vm.agent.listDisk(), options.signal));
    const missing = disks.filter((d) => !mounted.has(d.cid)).map((d) => d.cid);
    if (missing.length > 0) {
      throw new InternalError(
        `The agent of VM ${vm.vmCid} does not list disk(s) ${missing.join(', ')} as mounted after attaching them; ${instanceLabel(owner)} is not healthy — run \`bosun cck\`.`,
      );
    }
  });
}

function firstIp(networks: Record<string, { ip: string }>): string | null {
  for (const n of Object.values(networks)) if (n.ip !== '') return n.ip;
  return null;
}
