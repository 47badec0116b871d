import { randomUUID } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { UnavailableError } from '../../common/errors.js';
import type { AgentApi, Heartbeat } from '../../common/contracts/agent-protocol.js';
import type { AgentConnector, AgentTarget } from '../../common/contracts/agent-connector.js';
import {
  CloudError,
  DiskAttachedElsewhereError,
  DiskNotAttachedError,
  DiskNotFoundError,
  NotSupportedError,
  VmNotFoundError,
  type Cloud,
  type CloudInfo,
  type CreateVmRequest,
  type CreateVmResult,
  type VmMetadata,
} from '../cloud.js';
import { checkNewDiskSize, checkResizeInPlace } from '../disk-rules.js';
import type { DiskHint } from '../../common/contracts/disk-hint.js';
import { FakeAgent, type FakeAgentHost } from './fake-agent.js';

export type CloudMethod = keyof Cloud;

export interface FakeCloudOptions {
  /** Where the fake agents' heartbeats go (e.g. the director's health monitor). */
  onHeartbeat?: (hb: Heartbeat) => void;
  /** Overrides the interval the director passes in createVm's env. */
  heartbeatIntervalMs?: number;
  /** How long a call to an unresponsive agent hangs before rejecting with UnavailableError. */
  unresponsiveTimeoutMs?: number;
  /** Container names that never run on any fake agent (their instance reports jobState 'failing'). */
  failingContainers?: string[];
  /** When false, resizeDisk throws NotSupportedError (the director must migrate by copy). */
  supportsResizeDisk?: boolean;
  /** First address handed to VMs; the rest follow (10.244.0.2, .3, …). */
  firstIp?: string;
  /** Disks are directories (warden/docker-CPI style): attachDisk answers {path: /warden-cpi-dev/<cid>}. */
  directoryDisks?: boolean;
  /**
   * attachDisk and detachDisk recreate the VM, as bosh-docker-cpi does: its agent loses its spec,
   * containers and mounts and refuses calls for this many ms while it boots.
   */
  recreateVmOnAttachMs?: number;
}

export interface FailOptions {
  /** Fail this many calls, then succeed again (default 1 unless `always`). */
  times?: number;
  always?: boolean;
  /** The error to throw (default: a non-retryable CloudError naming the method). */
  error?: Error;
}

interface FakeVm {
  cid: string;
  agentId: string;
  ip: string;
  metadata: VmMetadata;
  lost: boolean;
  agent: FakeAgent;
}

interface FakeDisk {
  cid: string;
  sizeMiB: number;
  attachedTo: string | null;
  data: Map<string, string>;
}

/**
 * An in-memory cloud with in-process fake agents: fast enough for a thousand VMs, with failure
 * injection in the spirit of BOSH's dummy CPI (fail, pause, lose a VM, silence an agent, make a
 * container fail). Every call is recorded in `calls`.
 */
export class FakeCloud implements Cloud {
  /** Every Cloud call in order, failed ones included (except the fencing query findDiskAttachment). */
  readonly calls: Array<{ method: string; args: unknown[] }> = [];
  readonly agentConnector: AgentConnector;
  private readonly vms = new Map<string, FakeVm>();
  private readonly disks = new Map<string, FakeDisk>();
  /** Stemcells by cid: the image's size and cloud_properties (the fake keeps no bytes). */
  readonly stemcells = new Map<string, { imageSizeBytes: number; cloudProperties: Record<string, unknown> }>();
  private nextStemcell = 1;
  private readonly failures = new Map<string, { remaining: number; error?: Error }>();
  private readonly paused = new Map<string, Array<() => void>>();
  private readonly failingContainers: Set<string>;
  private readonly agentHost: FakeAgentHost;
  private nextIp: number;
  private isShutDown = false;

  constructor(private readonly options: FakeCloudOptions = {}) {
    this.failingContainers = new Set(options.failingContainers ?? []);
    const [a, b, c, d] = (options.firstIp ?? '10.244.0.2').split('.').map(Number);
    this.nextIp = (((a ?? 10) << 24) | ((b ?? 244) << 16) | ((c ?? 0) << 8) | (d ?? 2)) >>> 0;
    this.agentHost = {
      diskData: (diskCid) => this.disks.get(diskCid)?.data,
      diskSizeMiB: (diskCid) => this.disks.get(diskCid)?.sizeMiB,
      isDiskAttachedTo: (diskCid, vmCid) => this.disks.get(diskCid)?.attachedTo === vmCid,
      isFailingContainer: (name) => this.failingContainers.has(name),
      onHeartbeat: (hb) => this.options.onHeartbeat?.(hb),
      unresponsiveTimeoutMs: options.unresponsiveTimeoutMs ?? 1000,
    };
    this.agentConnector = { connect: (target: AgentTarget) => this.connect(target) };
  }

  // ---- failure injection and inspection -------------------------------------------------------

  /** Makes the next `times` calls of `method` (or all, with `always`) throw. */
  fail(method: CloudMethod, options: FailOptions = {}): void {
    const remaining = options.always ? Infinity : (options.times ?? 1);
    this.failures.set(method, { remaining, ...(options.error ? { error: options.error } : {}) });
  }

  /** Clears injected failures of one method (or all). */
  clearFailures(method?: CloudMethod): void {
    if (method) this.failures.delete(method);
    else this.failures.clear();
  }

  /** Calls of `method` wait (after being recorded) until `resume(method)`. */
  pause(method: CloudMethod): void {
    if (!this.paused.has(method)) this.paused.set(method, []);
  }

  resume(method: CloudMethod): void {
    const waiting = this.paused.get(method) ?? [];
    this.paused.delete(method);
    for (const go of waiting) go();
  }

  /** The VM vanishes from under the director: hasVm false, its agent stops heartbeating and answering. */
  loseVm(vmCid: string): void {
    const vm = this.vms.get(vmCid);
    if (!vm) throw new VmNotFoundError(vmCid);
    vm.lost = true;
    vm.agent.kill();
  }

  /** The agent stays alive but stops heartbeating; its calls hang, then reject with UnavailableError. */
  makeAgentUnresponsive(agentId: string, unresponsive: boolean): void {
    const vm = this.vmOfAgent(agentId);
    if (!vm) throw new Error(`no fake VM runs agent ${agentId}`);
    vm.agent.setUnresponsive(unresponsive);
  }

  /** A container of this name never runs on any agent (applies from the next apply/start). */
  setFailingContainer(name: string, failing: boolean): void {
    if (failing) this.failingContainers.add(name);
    else this.failingContainers.delete(name);
  }

  agentOf(agentId: string): FakeAgent | undefined {
    return this.vmOfAgent(agentId)?.agent;
  }

  agentOfVm(vmCid: string): FakeAgent | undefined {
    return this.vms.get(vmCid)?.agent;
  }

  /** The in-memory content of a disk (survives detach, attach elsewhere and resize). */
  diskData(diskCid: string): Map<string, string> {
    const disk = this.disks.get(diskCid);
    if (!disk) throw new DiskNotFoundError(diskCid);
    return disk.data;
  }

  diskSizeMiB(diskCid: string): number {
    const disk = this.disks.get(diskCid);
    if (!disk) throw new DiskNotFoundError(diskCid);
    return disk.sizeMiB;
  }

  vmMetadata(vmCid: string): VmMetadata | undefined {
    return this.vms.get(vmCid)?.metadata;
  }

  get vmCount(): number {
    return this.vms.size;
  }

  callsOf(method: CloudMethod): unknown[][] {
    return this.calls.filter((c) => c.method === method).map((c) => c.args);
  }

  /** Stops every agent's timers and releases paused calls; the cloud refuses calls afterwards. */
  shutdown(): void {
    this.isShutDown = true;
    for (const vm of this.vms.values()) vm.agent.kill();
    for (const method of [...this.paused.keys()]) this.resume(method as CloudMethod);
  }

  // ---- the Cloud interface -------------------------------------------------------------------

  async info(): Promise<CloudInfo> {
    return this.call('info', [], () => ({
      name: 'fake',
      apiVersion: 2,
      stemcellFormats: ['fake'],
      supportsResizeDisk: this.options.supportsResizeDisk ?? true,
    }));
  }

  async createVm(request: CreateVmRequest): Promise<CreateVmResult> {
    return this.call('createVm', [request], () => {
      for (const diskCid of request.diskCids) {
        const disk = this.requireDisk(diskCid);
        if (disk.attachedTo !== null)
          throw new DiskAttachedElsewhereError(diskCid, disk.attachedTo, 'being created');
      }
      const cid = `vm-${randomUUID()}`;
      // Like a CPI: the address the director allocated, else one of its own.
      const wanted = Object.entries(request.networks).find(([, n]) => n.ip !== '' && n.type !== 'vip');
      const ip = wanted?.[1].ip ?? this.allocateIp();
      const interval = this.options.heartbeatIntervalMs ?? request.env.heartbeatIntervalMs;
      const agent = new FakeAgent(request.agentId, cid, interval, this.agentHost);
      this.vms.set(cid, { cid, agentId: request.agentId, ip, metadata: {}, lost: false, agent });
      for (const diskCid of request.diskCids) this.requireDisk(diskCid).attachedTo = cid;
      agent.boot();
      const [name] = Object.keys(request.networks);
      return { vmCid: cid, networks: { [wanted?.[0] ?? name ?? 'default']: { ip, netmask: wanted?.[1].netmask ?? '255.255.0.0' } } };
    });
  }

  async deleteVm(vmCid: string): Promise<void> {
    return this.call('deleteVm', [vmCid], () => {
      const vm = this.vms.get(vmCid);
      if (!vm) return;
      vm.agent.kill();
      for (const disk of this.disks.values()) if (disk.attachedTo === vmCid) disk.attachedTo = null;
      this.vms.delete(vmCid);
    });
  }

  async hasVm(vmCid: string): Promise<boolean> {
    return this.call('hasVm', [vmCid], () => {
      const vm = this.vms.get(vmCid);
      return vm !== undefined && !vm.lost;
    });
  }

  async createStemcell(imagePath: string, cloudProperties: Record<string, unknown>): Promise<string> {
    const { size } = await stat(imagePath);
    return this.call('createStemcell', [imagePath, cloudProperties], () => {
      const cid = `sc-fake-${this.nextStemcell++}`;
      this.stemcells.set(cid, { imageSizeBytes: size, cloudProperties });
      return cid;
    });
  }

  async deleteStemcell(stemcellCid: string): Promise<void> {
    return this.call('deleteStemcell', [stemcellCid], () => {
      this.stemcells.delete(stemcellCid);
    });
  }

  async rebootVm(vmCid: string): Promise<void> {
    return this.call('rebootVm', [vmCid], () => {
      const vm = this.requireLiveVm(vmCid);
      vm.agent.reboot();
    });
  }

  async setVmMetadata(vmCid: string, metadata: VmMetadata): Promise<void> {
    return this.call('setVmMetadata', [vmCid, metadata], () => {
      const vm = this.requireLiveVm(vmCid);
      vm.metadata = { ...vm.metadata, ...metadata };
    });
  }

  async createDisk(
    sizeMiB: number,
    cloudProperties: Record<string, unknown>,
    vmCid?: string,
  ): Promise<string> {
    return this.call('createDisk', [sizeMiB, cloudProperties, vmCid], () => {
      checkNewDiskSize(sizeMiB);
      const cid = `disk-${randomUUID()}`;
      this.disks.set(cid, { cid, sizeMiB, attachedTo: null, data: new Map() });
      return cid;
    });
  }

  async deleteDisk(diskCid: string): Promise<void> {
    return this.call('deleteDisk', [diskCid], () => {
      const disk = this.requireDisk(diskCid);
      if (disk.attachedTo !== null) {
        throw new CloudError(
          `cannot delete disk ${diskCid}: it is attached to VM ${disk.attachedTo}; detach it first`,
        );
      }
      this.disks.delete(diskCid);
    });
  }

  async attachDisk(vmCid: string, diskCid: string): Promise<DiskHint> {
    return this.call('attachDisk', [vmCid, diskCid], () => {
      this.requireLiveVm(vmCid);
      const disk = this.requireDisk(diskCid);
      if (disk.attachedTo !== null && disk.attachedTo !== vmCid) {
        throw new DiskAttachedElsewhereError(diskCid, disk.attachedTo, vmCid);
      }
      const again = disk.attachedTo === vmCid;
      disk.attachedTo = vmCid;
      if (!again) this.recreateOnAttach(vmCid);
      return { path: this.options.directoryDisks ? `/warden-cpi-dev/${diskCid}` : `/dev/fake/${diskCid}` };
    });
  }

  async detachDisk(vmCid: string, diskCid: string): Promise<void> {
    return this.call('detachDisk', [vmCid, diskCid], () => {
      this.requireVm(vmCid);
      const disk = this.requireDisk(diskCid);
      if (disk.attachedTo !== vmCid) throw new DiskNotAttachedError(vmCid, diskCid);
      const agent = this.vms.get(vmCid)?.agent;
      if (agent && agent.state !== 'gone' && agent.isMounted(diskCid)) {
        // As the local cloud: a disk still mounted on a live VM is not detached.
        throw new CloudError(
          `cannot detach disk ${diskCid} from VM ${vmCid}: it is still mounted on the VM; unmount it first (the agent's unmount_disk) or delete the VM`,
        );
      }
      disk.attachedTo = null;
      this.recreateOnAttach(vmCid);
    });
  }

  private recreateOnAttach(vmCid: string): void {
    const ms = this.options.recreateVmOnAttachMs;
    const agent = this.vms.get(vmCid)?.agent;
    if (ms !== undefined && agent && agent.state !== 'gone') agent.recreate(ms);
  }

  async hasDisk(diskCid: string): Promise<boolean> {
    return this.call('hasDisk', [diskCid], () => this.disks.has(diskCid));
  }

  async getDisks(vmCid: string): Promise<string[]> {
    return this.call('getDisks', [vmCid], () => {
      this.requireVm(vmCid);
      return [...this.disks.values()]
        .filter((d) => d.attachedTo === vmCid)
        .map((d) => d.cid)
        .sort();
    });
  }

  async resizeDisk(diskCid: string, newSizeMiB: number): Promise<void> {
    return this.call('resizeDisk', [diskCid, newSizeMiB], () => {
      const disk = this.requireDisk(diskCid);
      if (!(this.options.supportsResizeDisk ?? true))
        throw new NotSupportedError(`resizing disk ${diskCid} in place`);
      checkResizeInPlace(disk, newSizeMiB);
      disk.sizeMiB = newSizeMiB;
    });
  }

  async listVms(): Promise<string[]> {
    return this.call('listVms', [], () => [...this.vms.keys()].sort());
  }

  async findDiskAttachment(diskCid: string): Promise<string | null> {
    return this.call('findDiskAttachment', [diskCid], () => this.requireDisk(diskCid).attachedTo);
  }

  // ---- internals -----------------------------------------------------------------------------

  private async call<T>(method: CloudMethod, args: unknown[], fn: () => T): Promise<T> {
    // findDiskAttachment is GuardedCloud's fencing query, not a CPI call the director makes: it is
    // left out of `calls` so tests can assert the exact CPI sequence through the wrapper.
    if (method !== 'findDiskAttachment') this.calls.push({ method, args });
    if (this.isShutDown) throw new CloudError(`the fake cloud was shut down; ${method} refused`);
    const waiting = this.paused.get(method);
    if (waiting) await new Promise<void>((resolve) => waiting.push(resolve));
    const failure = this.failures.get(method);
    if (failure && failure.remaining > 0) {
      failure.remaining -= 1;
      if (failure.remaining <= 0) this.failures.delete(method);
      throw failure.error ?? new CloudError(`injected failure of ${method} (fake cloud)`);
    }
    await Promise.resolve();
    return fn();
  }

  private connect(target: AgentTarget): AgentApi {
    // Resolved per call: the VM may be lost or replaced between connect and call.
    const resolve = (): FakeAgent => {
      const vm = this.vms.get(target.vmCid);
      if (!vm || vm.agentId !== target.agentId) {
        throw new UnavailableError(
          `agent ${target.agentId} on VM ${target.vmCid} cannot be reached: no such VM`,
        );
      }
      return vm.agent;
    };
    return {
      ping: async () => resolve().ping(),
      getState: async (o) => resolve().getState(o),
      apply: async (s, o) => resolve().apply(s, o),
      start: async (o) => resolve().start(o),
      stop: async (o) => resolve().stop(o),
      drain: async (o) => resolve().drain(o),
      mountDisk: async (r, o) => resolve().mountDisk(r, o),
      unmountDisk: async (d, o) => resolve().unmountDisk(d, o),
      listDisk: async () => resolve().listDisk(),
      fetchLogs: async (c, l) => resolve().fetchLogs(c, l),
      runCommand: async (c, t) => resolve().runCommand(c, t),
      migrateDisk: async (r, o) => resolve().migrateDisk(r, o),
      updateDns: async (p) => resolve().updateDns(p),
      getDns: async () => resolve().getDns(),
    };
  }

  private vmOfAgent(agentId: string): FakeVm | undefined {
    for (const vm of this.vms.values()) if (vm.agentId === agentId && !vm.lost) return vm;
    for (const vm of this.vms.values()) if (vm.agentId === agentId) return vm;
    return undefined;
  }

  private requireVm(vmCid: string): FakeVm {
    const vm = this.vms.get(vmCid);
    if (!vm) throw new VmNotFoundError(vmCid);
    return vm;
  }

  private requireLiveVm(vmCid: string): FakeVm {
    const vm = this.requireVm(vmCid);
    if (vm.lost) throw new VmNotFoundError(vmCid);
    return vm;
  }

  private requireDisk(diskCid: string): FakeDisk {
    const disk = this.disks.get(diskCid);
    if (!disk) throw new DiskNotFoundError(diskCid);
    return disk;
  }

  private allocateIp(): string {
    const n = this.nextIp++;
    return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
  }
}
