import { CancelledError, ConflictError, InternalError, InvalidInputError, NotFoundError, UnavailableError } from '../../common/errors.js';
import { sleep, throwIfAborted } from '../../common/waiting.js';
import type {
  AgentApi,
  AgentState,
  ContainerState,
  Heartbeat,
  JobState,
  LongActionOptions,
  MigrateDiskProgress,
  MigrateDiskRequest,
  MigrateDiskResult,
  MountDiskRequest,
  RunCommandResult,
  Vitals,
} from '../../common/contracts/agent-protocol.js';
import type { InstanceSpec } from '../../common/contracts/instance-spec.js';
import type { DnsPush, DnsPushResult, DnsRecordSet } from '../../common/contracts/dns-records.js';
import { DnsRecordStore, parseDnsPush } from '../../agent/dns/dns-record-store.js';
import { DnsResolver, type DnsLookup } from '../../agent/dns/dns-resolver.js';

/** What a fake agent needs from its cloud: the shared per-disk data and the failure switches. */
export interface FakeAgentHost {
  /** The in-memory "filesystem" of a disk: data written on one VM is read on the next. */
  diskData(diskCid: string): Map<string, string> | undefined;
  /** Size of a disk (migrate_disk refuses data that does not fit). */
  diskSizeMiB?(diskCid: string): number | undefined;
  isDiskAttachedTo(diskCid: string, vmCid: string): boolean;
  isFailingContainer(name: string): boolean;
  onHeartbeat(hb: Heartbeat): void;
  unresponsiveTimeoutMs: number;
}

export type FakeAgentCondition = 'running' | 'unresponsive' | 'gone';

const idleVitals = (): Vitals => ({
  load: [0, 0, 0],
  cpu: { user: 0, sys: 0, wait: 0 },
  mem: { percent: 10, kb: 100_000 },
  swap: { percent: 0, kb: 0 },
  disk: {},
});

/**
 * An in-process agent for the fake cloud: it keeps the applied spec, pretends its containers run,
 * mounts disks (whose data lives in the cloud, so it follows a disk to a new VM) and sends
 * heartbeats. Calls to an unresponsive agent hang, then reject with UnavailableError; calls to an
 * agent whose VM is gone reject at once. It fails the way the real agent does, with the same
 * typed errors (test/contract/agent-api-contract.ts runs against both).
 */
export class FakeAgent implements AgentApi {
  private spec: InstanceSpec | null = null;
  private stoppedOnPurpose = false;
  private containers = new Map<string, ContainerState>();
  private readonly mounted = new Map<string, 'store' | 'migration'>();
  private timer: NodeJS.Timeout | null = null;
  private migrateFailure: { phase: MigrateDiskRequest['phase']; message: string } | null = null;
  private migrateHold: { phase: MigrateDiskRequest['phase']; stopDelayMs: number; release: Promise<void>; resolve: () => void } | null = null;
  /** Containers that keep the store busy: unmounting the store disk is refused while set (refused-unmount tests). */
  storeHolders: string[] = [];
  /** Mounts the cloud must know about (its detach refuses a disk still mounted). */
  isMounted(diskCid: string): boolean {
    return this.mounted.has(diskCid);
  }
  private condition: FakeAgentCondition = 'running';
  /** Released when the VM goes: hanging calls end then (rejected as unanswered) rather than never. */
  private hanging = new AbortController();
  /** Every action called on this agent, in order (for assertions). */
  readonly calls: Array<{ action: string; args: unknown[] }> = [];
  /** Service discovery as the real agent does it (src/agent/dns/), in memory: the same store and resolver. */
  private readonly dnsStore = new DnsRecordStore();
  private readonly dnsResolver = new DnsResolver();

  constructor(
    readonly agentId: string,
    readonly vmCid: string,
    private readonly heartbeatIntervalMs: number,
    private readonly host: FakeAgentHost,
  ) {}

  get appliedSpec(): InstanceSpec | null {
    return this.spec;
  }

  get state(): FakeAgentCondition {
    return this.condition;
  }

  /** Starts heartbeating (the VM booted). */
  boot(): void {
    this.stopHeartbeats();
    if (this.condition !== 'running') return;
    this.timer = setInterval(() => this.beat(), this.heartbeatIntervalMs);
    this.timer.unref();
  }

  setUnresponsive(unresponsive: boolean): void {
    if (this.condition === 'gone') return;
    this.condition = unresponsive ? 'unresponsive' : 'running';
    if (unresponsive) this.stopHeartbeats();
    else this.boot();
  }

  /** The VM is gone: no more heartbeats, every call fails, pending calls are released. */
  kill(): void {
    this.condition = 'gone';
    this.stopHeartbeats();
    // Hanging calls end now (rejected as unanswered) rather than never.
    this.hanging.abort();
    this.hanging = new AbortController();
  }

  /**
   * The cloud recreated the VM (as the docker CPI does on attach/detach): the applied spec, the
   * containers and the mounts are lost, and calls are refused at once (the VM boots) for `downMs`.
   */
  recreate(downMs: number): void {
    this.spec = null;
    this.stoppedOnPurpose = false;
    this.containers.clear();
    this.mounted.clear();
    this.bootingUntilMs = Date.now() + downMs;
    this.recreations++;
  }

  /** How many times the cloud recreated this VM (recreate()). */
  recreations = 0;
  private bootingUntilMs = 0;

  /** A reboot: containers come back up from the last applied spec. */
  reboot(): void {
    if (this.spec) this.applyContainers(this.spec);
    this.boot();
  }

  /** Sends one heartbeat now (tests that do not want to wait for the interval). */
  beat(): void {
    if (this.condition !== 'running') return;
    this.host.onHeartbeat(this.heartbeat());
  }

  heartbeat(): Heartbeat {
    return {
      agentId: this.agentId,
      vmCid: this.vmCid,
      deployment: this.spec?.deployment ?? null,
      group: this.spec?.group ?? null,
      index: this.spec?.index ?? null,
      instanceId: this.spec?.instanceId ?? null,
      jobState: this.jobState(),
      containers: [...this.containers.values()].map((c) => ({
        name: c.name,
        state: c.state,
        restarts: c.restarts,
        flapping: c.flapping,
        uptimeSeconds: c.uptimeSeconds,
      })),
      vitals: idleVitals(),
      timestamp: new Date().toISOString(),
    };
  }

  /** The store data of the disk mounted at the store (tests write and read through it). */
  storeData(): Map<string, string> {
    for (const [diskCid, target] of this.mounted) {
      if (target === 'store') {
        const data = this.host.diskData(diskCid);
        if (data) return data;
      }
    }
    throw new Error(`agent ${this.agentId} has no persistent disk mounted at its store`);
  }

  stopHeartbeats(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  async ping(): Promise<'pong'> {
    return this.act('ping', [], () => 'pong' as const);
  }

  async getState(options?: { vitals?: boolean }): Promise<AgentState> {
    return this.act('getState', [options], () => ({
      agentId: this.agentId,
      vmCid: this.vmCid,
      jobState: this.jobState(),
      specHash: this.spec?.specHash ?? null,
      stopped: this.stoppedOnPurpose,
      dockerd: { state: 'running', restarts: 0 },
      containers: [...this.containers.values()].map((c) => ({ ...c })),
      disks: [...this.mounted.keys()].sort(),
      ...(options?.vitals ? { vitals: this.vitals() } : {}),
    }));
  }

  async apply(spec: InstanceSpec, options: LongActionOptions = {}): Promise<void> {
    return this.act('apply', [spec], () => {
      if (!spec || !Array.isArray(spec.containers)) throw new InvalidInputError('apply needs an instance spec with a `containers` list.');
      this.spec = spec;
      this.applyContainers(spec);
    }, options.signal);
  }

  async start(options: LongActionOptions = {}): Promise<void> {
    return this.act('start', [], () => {
      this.stoppedOnPurpose = false;
      if (this.spec) this.applyContainers(this.spec);
    }, options.signal);
  }

  async stop(options: LongActionOptions = {}): Promise<void> {
    return this.act('stop', [], () => {
      this.stoppedOnPurpose = true;
      for (const c of this.containers.values()) {
        c.state = 'stopped';
        c.uptimeSeconds = 0;
      }
      this.refreshLocalDns();
    }, options.signal);
  }

  async drain(options: LongActionOptions = {}): Promise<void> {
    return this.act('drain', [], () => undefined, options.signal);
  }

  async mountDisk(request: MountDiskRequest, options: LongActionOptions = {}): Promise<void> {
    return this.act('mountDisk', [request], () => {
      if (!request?.diskCid || !request.hint?.path) throw new InvalidInputError('mount_disk needs {diskCid, hint: {path}}.');
      if (!this.host.diskData(request.diskCid) || !this.host.isDiskAttachedTo(request.diskCid, this.vmCid)) {
        throw new NotFoundError(
          `Cannot mount disk ${request.diskCid}: its device ${request.hint.path} does not exist on VM ${this.vmCid}; check that the cloud attached it.`,
        );
      }
      this.mounted.set(request.diskCid, request.target ?? 'store');
    }, options.signal);
  }

  async unmountDisk(diskCid: string, options: LongActionOptions = {}): Promise<void> {
    return this.act('unmountDisk', [diskCid], () => {
      if (this.mounted.get(diskCid) === 'store' && this.storeHolders.length > 0) {
        // As the real agent answers (src/agent/agent.ts).
        throw new ConflictError(
          `Cannot unmount disk ${diskCid}: containers ${this.storeHolders.map((n) => `"${n}"`).join(', ')} are running off it; the disk stays mounted and attached. Stop the instance first.`,
          { details: { containers: [...this.storeHolders] } },
        );
      }
      this.mounted.delete(diskCid);
    }, options.signal);
  }

  /**
   * Makes the next migrate_disk of `phase` run until `release()` is called, as a long copy does.
   * Aborting its signal stops it after `stopDelayMs` (a copier that takes a while to exit): the
   * call rejects with a CancelledError only then, and `calls` records 'migrateDisk:stopped'.
   */
  holdNextMigrate(phase: MigrateDiskRequest['phase'], stopDelayMs = 0): { release: () => void } {
    let resolve!: () => void;
    const release = new Promise<void>((r) => (resolve = r));
    this.migrateHold = { phase, stopDelayMs, release, resolve };
    return { release: resolve };
  }

  /** Makes the next migrate_disk of `phase` fail with `message` (failure injection for resize tests). */
  failNextMigrate(phase: MigrateDiskRequest['phase'], message = `injected migrate_disk failure (${phase})`): void {
    this.migrateFailure = { phase, message };
  }

  /**
   * Disk migration over the fake disks' data: 'copy' copies the store disk's entries to the disk at
   * the migration target; 'delta' makes the target identical (deletions too) and verifies it.
   */
  async migrateDisk(
    request: MigrateDiskRequest,
    options: LongActionOptions<MigrateDiskProgress> = {},
  ): Promise<MigrateDiskResult> {
    const { onProgress, signal } = options;
    if (!MIGRATE_PHASES.includes(request.phase)) {
      throw new InvalidInputError(`migrate_disk needs "phase": one of ${MIGRATE_PHASES.join(', ')}, not ${JSON.stringify(request.phase)}.`);
    }
    const hold = this.migrateHold?.phase === request.phase ? this.migrateHold : null;
    if (hold) {
      this.migrateHold = null;
      await this.act('migrateDisk', [request], () => undefined, signal);
      await new Promise<void>((resolve, reject) => {
        const onAbort = (): void => {
          setTimeout(() => {
            this.calls.push({ action: 'migrateDisk:stopped', args: [request] });
            reject(new CancelledError(`migrate_disk (${request.phase}) on agent ${this.agentId} was cancelled`));
          }, hold.stopDelayMs);
        };
        if (signal?.aborted) onAbort();
        else signal?.addEventListener('abort', onAbort, { once: true });
        void hold.release.then(() => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        });
      });
    }
    return this.act(hold ? 'migrateDisk:resumed' : 'migrateDisk', [request], () => {
      if (request.phase === 'swap') {
        if (this.migrateFailure?.phase === 'swap') {
          const { message } = this.migrateFailure;
          this.migrateFailure = null;
          throw new InternalError(message);
        }
        const { oldDiskCid, newDiskCid } = request;
        if (!oldDiskCid || !newDiskCid) throw new InvalidInputError('migrate_disk "swap" needs "oldDiskCid" and "newDiskCid".');
        if (!this.mounted.has(newDiskCid)) throw new ConflictError(`Cannot swap disks: the new disk ${newDiskCid} is not mounted at the migration target.`);
        this.mounted.delete(oldDiskCid);
        this.mounted.set(newDiskCid, 'store');
        return { bytesCopied: 0, filesCopied: 0, durationMs: 0 };
      }
      const at = (target: 'store' | 'migration'): [string, Map<string, string>] => {
        for (const [cid, t] of this.mounted) {
          const data = t === target ? this.host.diskData(cid) : undefined;
          if (data) return [cid, data];
        }
        throw new ConflictError(`Cannot migrate the persistent disk: agent ${this.agentId} has no disk mounted at its ${target} target.`);
      };
      const [, from] = at('store');
      const [toCid, to] = at('migration');
      const bytes = usedBytesOf(from);
      const sizeMiB = this.host.diskSizeMiB?.(toCid);
      if (request.phase === 'copy' && sizeMiB !== undefined && bytes > sizeMiB * 1024 * 1024) {
        throw new ConflictError(`The new disk ${toCid} (${sizeMiB} MiB) is too small for ${bytes} bytes of data.`);
      }
      if (this.migrateFailure?.phase === request.phase) {
        const { message } = this.migrateFailure;
        this.migrateFailure = null;
        throw new InternalError(message);
      }
      if (request.phase !== 'copy') to.clear();
      for (const [k, v] of from) to.set(k, v);
      onProgress?.({
        phase: request.phase,
        bytesCopied: bytes,
        filesCopied: from.size,
        bytesTotal: bytes,
        filesTotal: from.size,
      });
      if (request.phase === 'delta') {
        for (const [k, v] of from)
          if (to.get(k) !== v) throw new InternalError(`The copy on the new disk does not match: ${k} differs.`);
      }
      return {
        startedAtMs: Date.now(),
        bytesCopied: bytes,
        filesCopied: from.size,
        durationMs: 0,
        ...(request.phase === 'delta' ? { verifiedFiles: from.size, checksummedFiles: from.size } : {}),
      };
    });
  }

  async updateDns(push: DnsPush): Promise<DnsPushResult> {
    return this.act('updateDns', [push], () => {
      const { result, outcome } = this.dnsStore.apply(parseDnsPush(push));
      if (outcome !== 'ignored') this.dnsResolver.setRecords(this.dnsStore.set);
      return result;
    });
  }

  async getDns(): Promise<{ version: number; set: DnsRecordSet }> {
    return this.act('getDns', [], () => ({ version: this.dnsStore.version, set: this.dnsStore.set }));
  }

  /**
   * What this VM's DNS server would answer (no wire: the resolver itself); null for a name it
   * forwards. Answers nothing once the VM is gone, like a lost VM's resolver.
   */
  resolveDns(name: string, type = 'A'): DnsLookup | null {
    if (this.condition === 'gone') return null;
    return this.dnsResolver.lookup(name, type);
  }

  async listDisk(): Promise<string[]> {
    return this.act('listDisk', [], () => [...this.mounted.keys()].sort());
  }

  async fetchLogs(container: string, lines?: number): Promise<string> {
    return this.act('fetchLogs', [container, lines], () => {
      const c = this.containers.get(container);
      if (!c) throw new NotFoundError(`There is no container "${container}" on this VM; \`bosun instances\` lists the containers.`);
      return `fake log of ${container} (${c.state})\n`;
    });
  }

  async runCommand(command: string, timeoutMs?: number): Promise<RunCommandResult> {
    return this.act('runCommand', [command, timeoutMs], () => {
      if (typeof command !== 'string' || command === '') throw new InvalidInputError('run_command needs a non-empty `command`.');
      return { exitCode: 0, stdout: `${command}\n`, stderr: '' };
    });
  }

  /** Idle vitals plus the store disk's usage (its data's bytes), which the disk resize checks. */
  private vitals(): Vitals {
    const v = idleVitals();
    for (const [cid, target] of this.mounted) {
      const data = target === 'store' ? this.host.diskData(cid) : undefined;
      if (!data) continue;
      const usedBytes = usedBytesOf(data);
      const totalBytes = (this.host.diskSizeMiB?.(cid) ?? 0) * 1024 * 1024;
      v.disk.persistent = {
        usedBytes,
        totalBytes,
        percent: totalBytes > 0 ? Math.round((100 * usedBytes) / totalBytes) : 0,
      };
    }
    return v;
  }

  private jobState(): JobState {
    if (!this.spec) return 'unknown';
    if (this.stoppedOnPurpose) return 'stopped';
    for (const c of this.containers.values()) {
      if (c.state !== 'running') return 'failing';
    }
    return 'running';
  }

  private applyContainers(spec: InstanceSpec): void {
    const next = new Map<string, ContainerState>();
    for (const cs of spec.containers) {
      const prev = this.containers.get(cs.name);
      const failing = this.host.isFailingContainer(cs.name);
      const state: ContainerState = {
        name: cs.name,
        image: cs.image,
        state: this.stoppedOnPurpose ? 'stopped' : failing ? 'restarting' : 'running',
        uptimeSeconds: 0,
        restarts: failing ? (prev?.restarts ?? 0) + 1 : (prev?.restarts ?? 0),
        flapping: failing && !this.stoppedOnPurpose,
        ...(failing
          ? { lastExitCode: 1, lastError: `container ${cs.name} keeps exiting (injected failure)` }
          : {}),
        dockerId: `fake-${cs.name}-${cs.specHash.slice(0, 12)}`,
      };
      next.set(cs.name, state);
    }
    this.containers = next;
    this.refreshLocalDns();
  }

  /** As the real agent: its own instance's containers that are not running drop out of its answers at once. */
  private refreshLocalDns(): void {
    const spec = this.spec;
    if (!spec) return;
    const containers = new Map([...this.containers.values()].map((c) => [c.name, c.state === 'running'] as const));
    this.dnsResolver.setLocal({ deployment: spec.deployment, group: spec.group, index: spec.index, running: !this.stoppedOnPurpose, containers });
  }

  /** Runs an action as the agent's HTTP API would answer it, honouring the injected condition. */
  private async act<T>(action: string, args: unknown[], fn: () => T, signal?: AbortSignal): Promise<T> {
    this.calls.push({ action, args });
    // As over HTTP (src/director/agent-client/): an aborted call rejects with the abort's reason.
    throwIfAborted(signal);
    if (this.condition === 'gone') {
      throw new UnavailableError(`agent ${this.agentId} on VM ${this.vmCid} does not answer: its VM is gone`);
    }
    if (Date.now() < this.bootingUntilMs) {
      throw new UnavailableError(`agent ${this.agentId} on VM ${this.vmCid} does not answer ${action}: its VM is booting (connection refused)`);
    }
    if (this.condition === 'unresponsive') {
      await sleep(this.host.unresponsiveTimeoutMs, this.hanging.signal).catch(() => undefined);
      throw new UnavailableError(
        `agent ${this.agentId} on VM ${this.vmCid} did not answer ${action} within ${this.host.unresponsiveTimeoutMs} ms`,
      );
    }
    // Answer asynchronously, as a real agent would.
    await Promise.resolve();
    return fn();
  }
}

const MIGRATE_PHASES: Array<MigrateDiskRequest['phase']> = ['copy', 'sync', 'delta', 'swap'];

function usedBytesOf(data: Map<string, string>): number {
  let n = 0;
  for (const [k, v] of data) n += k.length + v.length;
  return n;
}
