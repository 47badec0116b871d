/**
 * The agent's service discovery: the record set (pushed by the director, kept on disk), the
 * resolver over it with the agent's own view of its instance, and the DNS server on the VM's
 * address. docs/service-discovery.md ("On the VM").
 */
import type { DnsPush, DnsPushResult, DnsRecordSet } from '../../common/contracts/dns-records.js';
import type { Logger } from '../../common/logger.js';
import { errorMessage } from '../../common/errors.js';
import { Mutex } from '../../common/mutex.js';
import { DnsRecordStore, parseDnsPush } from './dns-record-store.js';
import { DnsResolver, type LocalInstanceView } from './dns-resolver.js';
import { DnsSetFile } from './dns-set-file.js';
import { DnsServer } from './dns-server.js';
import { DnsForwarder, readUpstreams, type DnsUpstream } from './dns-forwarder.js';

export interface DnsServiceOptions {
  /** The VM's own address: the server listens there, containers' resolvers point there. */
  address: string;
  /** 53 on a VM; 0 picks a free port (tests); null: no server (the API and store still work). */
  port: number | null;
  /** Where the record set is kept (the agent's ephemeral data dir). */
  dataDir: string;
  /** The VM's resolv.conf (its nameservers are the upstreams, minus `address`). */
  resolvConfPath?: string;
  /** How often resolv.conf is read again (default RESOLV_CONF_REFRESH_MS). */
  resolvConfRefreshMs?: number;
  /** Upstreams given directly (tests); replaces resolv.conf. */
  upstreams?: DnsUpstream[];
  log: Logger;
}

/** How often the VM's resolv.conf is read again (a VM may get its resolvers after the agent started, from DHCP). */
export const RESOLV_CONF_REFRESH_MS = 10_000;

export class DnsService {
  readonly resolver = new DnsResolver();
  private readonly saveMutex = new Mutex();
  private server: DnsServer | null = null;
  private readonly forwarder = new DnsForwarder([]);
  /** The VM's own upstreams (resolv.conf), read by `listen`. */
  private vmUpstreams: DnsUpstream[] = [];
  /** The manifest's `docker.dns`: where containers' other names go instead, when set. */
  private dockerDns: string[] = [];
  private refreshTimer: NodeJS.Timeout | null = null;

  private constructor(
    private readonly store: DnsRecordStore,
    private readonly file: DnsSetFile,
    private readonly options: DnsServiceOptions,
  ) {
    this.resolver.setRecords(store.set);
  }

  /** Loads the saved set; the server starts with `listen`. */
  static async create(options: DnsServiceOptions): Promise<DnsService> {
    const file = new DnsSetFile(options.dataDir, options.log);
    const saved = await file.load();
    const store = new DnsRecordStore(saved ?? undefined);
    if (saved) options.log.info('answering DNS from the saved record set', { version: saved.version, instances: saved.instances.length });
    return new DnsService(store, file, options);
  }

  /** Starts answering on the VM's address. A failure is logged: the agent runs on without DNS. */
  async listen(): Promise<void> {
    const { port, address, log } = this.options;
    if (port === null || this.server) return;
    if (!address) {
      log.warn('the VM has no address in its settings (network.ip); not answering DNS');
      return;
    }
    try {
      this.vmUpstreams = this.options.upstreams ?? (await this.readVmUpstreams());
      this.applyUpstreams();
      if (!this.options.upstreams) {
        this.refreshTimer = setInterval(() => {
          this.readVmUpstreams().then(
            (u) => {
              this.vmUpstreams = u;
              this.applyUpstreams();
            },
            (err: unknown) => log.debug('cannot read resolv.conf again', { error: errorMessage(err) }),
          );
        }, this.options.resolvConfRefreshMs ?? RESOLV_CONF_REFRESH_MS);
        this.refreshTimer.unref();
      }
      this.server = await DnsServer.create({ host: address, port, resolver: this.resolver, forwarder: this.forwarder, log });
      log.info('answering DNS', { address, port: this.server.port, upstreams: this.forwarder.upstreams.map((u) => `${u.host}:${u.port}`) });
    } catch (err) {
      log.error(`cannot answer DNS on ${address}:${port}; containers keep the resolver Docker gives them`, { error: errorMessage(err) });
    }
  }

  /** The address containers' resolvers point at; null while the server is not answering. */
  get serverAddress(): string | null {
    return this.server && this.server.port === 53 ? this.server.host : null;
  }

  /** Where other names are forwarded now. */
  get upstreams(): DnsUpstream[] {
    return this.forwarder.upstreams;
  }

  get listeningPort(): number | null {
    return this.server?.port ?? null;
  }

  async update(raw: unknown): Promise<DnsPushResult> {
    const push: DnsPush = parseDnsPush(raw);
    return this.saveMutex.run(async () => {
      const { result, outcome } = this.store.apply(push);
      if (outcome === 'ignored') return result;
      this.resolver.setRecords(this.store.set);
      // Answered from memory at once; on disk before the push is acknowledged, so an agent restart keeps it.
      await this.file.save(this.store.set);
      return result;
    });
  }

  get(): { version: number; set: DnsRecordSet } {
    return { version: this.store.version, set: this.store.set };
  }

  /**
   * The manifest's `docker.dns` (the daemon's `--dns`): containers now ask the agent, so the agent
   * forwards their other names there rather than to the VM's resolv.conf. Empty: the VM's.
   */
  useDockerDns(servers: string[]): void {
    this.dockerDns = servers.filter((s) => s !== this.options.address);
    this.applyUpstreams();
  }

  private readVmUpstreams(): Promise<DnsUpstream[]> {
    return readUpstreams(this.options.resolvConfPath ?? '/etc/resolv.conf', [this.options.address]);
  }

  private applyUpstreams(): void {
    this.forwarder.upstreams = this.dockerDns.length > 0 ? this.dockerDns.map((host) => ({ host, port: 53 })) : this.vmUpstreams;
  }

  /** The agent's own instance as it sees it (withdraws its stopped or unhealthy containers at once). */
  setLocal(local: LocalInstanceView | null): void {
    this.resolver.setLocal(local);
  }

  async close(): Promise<void> {
    if (this.refreshTimer) clearInterval(this.refreshTimer);
    this.refreshTimer = null;
    await this.server?.close();
    this.server = null;
  }
}
