/**
 * Service discovery's engine on the director (docs/service-discovery.md): it keeps the current
 * record set and its version (saved in the store, so versions keep growing across restarts),
 * rebuilds the set whenever something it derives from changes (the store's instance and
 * deployment writes, a container's state in a heartbeat), and pushes every new version to every
 * agent. A burst of changes within `coalesceMs` becomes one version. Each agent gets a delta
 * against the version it acknowledged (the whole set when it is new, when the director no longer
 * has that version, or when it refuses the delta with 409 dns_version_mismatch). Pushes run
 * concurrently with a deadline each; an agent that does not answer never holds up the others and
 * is tried again after a backoff, or at once when its next heartbeat shows it is back.
 */
import { setMaxListeners } from 'node:events';
import type { AgentConnector } from '../../common/contracts/agent-connector.js';
import type { Heartbeat } from '../../common/contracts/agent-protocol.js';
import type { DnsPush, DnsPushResult, DnsRecordSet } from '../../common/contracts/dns-records.js';
import { BosunError, errorMessage } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';
import { retry, type RetryPolicy } from '../../common/retry.js';
import { sleep, withDeadline } from '../../common/waiting.js';
import type { InstanceRecord, Store } from '../../store/store.js';
import type { ManifestPort } from '../deploy/plan.js';
import { AgentDnsSync } from './agent-dns-sync.js';
import { DnsSourceReader } from './dns-sources.js';
import { buildRecords } from './record-builder.js';
import { pushFor, sameRecords } from './record-delta.js';

export interface DnsPublisherOptions {
  store: Store;
  agents: AgentConnector;
  manifests: Pick<ManifestPort, 'load' | 'dnsAliases'>;
  logger: Logger;
  /** The deadline of one push to one agent. */
  pushTimeoutMs: number;
  /** Changes within this window become one version (default 10 ms). */
  coalesceMs?: number;
  /** How often agents that are behind are looked at when nothing changes (default 500 ms). */
  resyncIntervalMs?: number;
  /** Versions kept in memory to compute deltas from (default 64). */
  historySize?: number;
}

/** What the store keeps: the set and each instance's VM when it was built. */
interface SavedSet extends DnsRecordSet {
  vmCids?: Record<string, string | null>;
}

const PUSH_RETRY: Omit<RetryPolicy, 'deadlineMs'> = { attempts: 2, backoff: { initialMs: 100, maxMs: 500 } };

export type DnsPublisherState = 'running' | 'stopping' | 'stopped';

export class DnsPublisher {
  private current: DnsRecordSet;
  /** Each instance's VM when `current` was built (saved with it): health carries over only on the same VM. */
  private currentVmCids: Map<string, string | null>;
  private readonly history = new Map<number, DnsRecordSet>();
  private readonly syncs = new Map<string, AgentDnsSync>();
  /** VMs the health monitor found gone from the cloud, by deployment (their instances are withdrawn). */
  private readonly missingVms = new Map<string, Set<string>>();
  /** agent id → container name → the state its last heartbeat reported. */
  private readonly states = new Map<string, Map<string, string>>();
  private readonly reader: DnsSourceReader;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly stopping = new AbortController();
  private wake = new AbortController();
  private dirty = true;
  private rebuilding: Promise<void> = Promise.resolve();
  /** An agent answered with a version above ours (a restored database): the next version passes it. */
  private minVersion = 0;
  private loopDone: Promise<void> = Promise.resolve();
  private unsubscribe: () => void = () => undefined;
  private _state: DnsPublisherState = 'running';
  private readonly coalesceMs: number;
  private readonly resyncIntervalMs: number;
  private readonly historySize: number;

  private constructor(
    private readonly options: DnsPublisherOptions,
    saved: DnsRecordSet,
    savedVmCids: Map<string, string | null>,
  ) {
    this.current = saved;
    this.currentVmCids = savedVmCids;
    this.history.set(saved.version, saved);
    this.reader = new DnsSourceReader(options.store, options.manifests, options.logger);
    this.coalesceMs = options.coalesceMs ?? 10;
    this.resyncIntervalMs = options.resyncIntervalMs ?? 500;
    this.historySize = options.historySize ?? 64;
    // Every push in flight listens on it (one per agent at once).
    setMaxListeners(0, this.stopping.signal);
  }

  /** Loads the last saved set (version 0 and empty on a new director) and starts the loop. */
  static async create(options: DnsPublisherOptions): Promise<DnsPublisher> {
    const saved = await options.store.dnsState.get();
    let set: DnsRecordSet = { version: 0, instances: [], aliases: [] };
    let vmCids = new Map<string, string | null>();
    if (saved !== undefined) {
      try {
        const parsed = JSON.parse(saved.setJson) as SavedSet;
        set = { version: saved.version, instances: parsed.instances, aliases: parsed.aliases };
        vmCids = new Map(Object.entries(parsed.vmCids ?? {}));
      } catch (err) {
        options.logger.warn(`the saved DNS record set could not be read (${errorMessage(err)}); building it anew from version ${saved.version + 1}`);
        set = { version: saved.version, instances: [], aliases: [] };
      }
    }
    const publisher = new DnsPublisher(options, set, vmCids);
    publisher.unsubscribe = options.store.changes.on(() => publisher.changed());
    publisher.loopDone = publisher.loop();
    return publisher;
  }

  get state(): DnsPublisherState {
    return this._state;
  }

  /** The set the director holds now. */
  get recordSet(): DnsRecordSet {
    return this.current;
  }

  /** Which version each agent acknowledged (null: none yet), by agent id. */
  agentVersions(): Map<string, number | null> {
    return new Map([...this.syncs].map(([id, s]) => [id, s.acked]));
  }

  /** Something the set is built from changed: a new version follows within `coalesceMs` if the records differ. */
  changed(): void {
    this.dirty = true;
    this.wake.abort();
  }

  /** A heartbeat: a container whose state changed makes a new version; a waiting push to this agent goes now. */
  recordHeartbeat(hb: Heartbeat): void {
    const next = new Map(hb.containers.map((c) => [c.name, c.state]));
    const prev = this.states.get(hb.agentId);
    this.states.set(hb.agentId, next);
    if (prev === undefined || prev.size !== next.size || [...next].some(([k, v]) => prev.get(k) !== v)) this.changed();
    const sync = this.syncs.get(hb.agentId);
    if (sync !== undefined && sync.state === 'waiting') {
      sync.alive();
      this.wake.abort();
    }
  }

  /**
   * The health monitor's analysis of a deployment: instances whose VM the cloud no longer has are
   * withdrawn at once, before the resurrector replaces them (an unresponsive agent is not: its
   * containers may well be serving).
   */
  recordVmHealth(deployment: string, missingVmCids: readonly string[]): void {
    const next = new Set(missingVmCids);
    const prev = this.missingVms.get(deployment) ?? new Set<string>();
    if (next.size === 0) this.missingVms.delete(deployment);
    else this.missingVms.set(deployment, next);
    if (next.size !== prev.size || [...next].some((c) => !prev.has(c))) this.changed();
  }

  /** Rebuilds now and waits until every reachable agent has answered the push (tests, benchmarks). */
  async flush(): Promise<void> {
    this.dirty = false;
    await this.rebuild();
    this.pushToAgents();
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  async close(): Promise<void> {
    if (this._state !== 'running') return;
    this._state = 'stopping';
    this.unsubscribe();
    this.stopping.abort();
    this.wake.abort();
    await this.loopDone;
    await this.rebuilding.catch(() => undefined);
    await Promise.allSettled([...this.inFlight]);
    this._state = 'stopped';
  }

  private async loop(): Promise<void> {
    const stop = this.stopping.signal;
    while (!stop.aborted) {
      if (!this.dirty) {
        await sleep(this.resyncIntervalMs, this.wake.signal).catch(() => undefined);
      }
      if (stop.aborted) break;
      this.wake = new AbortController();
      if (this.dirty) {
        await sleep(this.coalesceMs, stop).catch(() => undefined);
        if (stop.aborted) break;
        this.dirty = false;
        try {
          await this.rebuild();
        } catch (err) {
          this.options.logger.warn(`could not rebuild the DNS records: ${errorMessage(err)}; trying again`);
          this.dirty = true;
          await sleep(this.resyncIntervalMs, stop).catch(() => undefined);
          continue;
        }
      }
      this.pushToAgents();
    }
  }

  /** One rebuild at a time; a new version only when the records differ. */
  private rebuild(): Promise<void> {
    const run = this.rebuilding.catch(() => undefined).then(() => this.rebuildOnce());
    this.rebuilding = run;
    return run;
  }

  private async rebuildOnce(): Promise<void> {
    const missing = new Set([...this.missingVms.values()].flatMap((s) => [...s]));
    const sources = await this.reader.gather((agentId) => this.states.get(agentId), missing);
    this.updateTargets(sources.records);
    const records = buildRecords({ instances: sources.instances, aliases: sources.aliases, previous: this.current, previousVmCids: this.currentVmCids });
    const vmCids = new Map(sources.instances.map((i) => [i.id, i.vmCid]));
    if (sameRecords(records, this.current) && this.current.version >= this.minVersion) {
      this.currentVmCids = vmCids;
      return;
    }
    const set: DnsRecordSet = { version: Math.max(this.current.version, this.minVersion) + 1, ...records };
    const saved: SavedSet = { ...set, vmCids: Object.fromEntries(vmCids) };
    await this.options.store.dnsState.save(set.version, JSON.stringify(saved));
    this.current = set;
    this.currentVmCids = vmCids;
    this.history.set(set.version, set);
    for (const v of this.history.keys()) {
      if (this.history.size <= this.historySize) break;
      this.history.delete(v);
    }
  }

  /** Every VM of every deployment is pushed to; agents whose VM went are forgotten. */
  private updateTargets(records: readonly InstanceRecord[]): void {
    const live = new Set<string>();
    for (const r of records) {
      // A VM whose address is not known yet (its agent's heartbeat tells it) cannot be pushed to.
      if (r.vmCid === null || r.agentId === null || r.ip === null) continue;
      live.add(r.agentId);
      const target = { agentId: r.agentId, vmCid: r.vmCid, ip: r.ip };
      const sync = this.syncs.get(r.agentId);
      if (sync === undefined) this.syncs.set(r.agentId, new AgentDnsSync(target));
      else sync.target = target;
    }
    for (const id of this.syncs.keys()) if (!live.has(id)) this.syncs.delete(id);
    for (const id of this.states.keys()) if (!live.has(id)) this.states.delete(id);
  }

  private pushToAgents(): void {
    const now = Date.now();
    for (const sync of this.syncs.values()) {
      if (!sync.due(this.current.version, now)) continue;
      const p = this.pushTo(sync).finally(() => this.inFlight.delete(p));
      this.inFlight.add(p);
    }
  }

  private async pushTo(sync: AgentDnsSync): Promise<void> {
    const set = this.current;
    const api = this.options.agents.connect(sync.target);
    const update = api.updateDns.bind(api);
    sync.state = 'pushing';
    const base = sync.needsFull || sync.acked === null ? undefined : this.history.get(sync.acked);
    let push = pushFor(base, set);
    try {
      let result: DnsPushResult;
      try {
        result = await this.send(update, push, sync);
      } catch (err) {
        if (push.kind !== 'delta' || !isVersionMismatch(err)) throw err;
        push = { kind: 'full', set };
        result = await this.send(update, push, sync);
      }
      if (result.version > this.current.version) {
        this.minVersion = result.version;
        this.changed();
      }
      sync.acknowledged(result.version, this.current.version);
    } catch (err) {
      if (this.stopping.signal.aborted) return;
      if (isVersionMismatch(err)) sync.needsFull = true;
      const delay = sync.failed(Date.now());
      const log = sync.failures === 1 || sync.failures % 10 === 0 ? this.options.logger.warn : this.options.logger.debug;
      log.call(this.options.logger, `could not push DNS records version ${set.version} to agent ${sync.target.agentId} (VM ${sync.target.vmCid}): ${errorMessage(err)}; trying again in ${delay} ms or at its next heartbeat`, {
        agentId: sync.target.agentId,
        failures: sync.failures,
      });
      return;
    }
    // A newer version came while this push was under way.
    if (sync.due(this.current.version, Date.now())) this.wake.abort();
  }

  private send(update: (push: DnsPush) => Promise<DnsPushResult>, push: DnsPush, sync: AgentDnsSync): Promise<DnsPushResult> {
    const version = push.kind === 'full' ? push.set.version : push.version;
    const what = `pushing DNS records version ${version} (${push.kind}) to agent ${sync.target.agentId}`;
    const timeout = this.options.pushTimeoutMs;
    return retry((signal) => withDeadline(timeout, what, () => update(push), signal), { ...PUSH_RETRY, deadlineMs: timeout * 2 }, { what, signal: this.stopping.signal });
  }
}

/** 409 with code dns_version_mismatch (or any 409: over HTTP an unknown code arrives as `conflict`). */
export function isVersionMismatch(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  if ((err as { code?: unknown }).code === 'dns_version_mismatch') return true;
  return err instanceof BosunError && err.httpStatus === 409;
}
