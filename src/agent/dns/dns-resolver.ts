/**
 * Answers a question about a name under `.bosun` from a record set (the names of
 * src/common/dns-names.ts), with the agent's own instance's containers as the agent sees them.
 * Pure and in memory: the agent's DNS server and the fake cloud's agents answer through it.
 */
import type { DnsInstance, DnsRecordSet } from '../../common/contracts/dns-records.js';
import { DNS_DOMAIN, containerDnsName, groupDnsName, instanceDnsName, isBosunDnsName, srvDnsName } from '../../common/dns-names.js';
import type { DnsRcode, DnsRecord } from './dns-wire.js';

/**
 * TTL of every answer: 1 s. Names follow container health, and a client (or Docker's embedded
 * DNS, or a JVM) that caches an answer keeps using a withdrawn address for the TTL; the agent
 * answers locally in well under a millisecond, so a short TTL costs nothing.
 */
export const DNS_TTL_S = 1;

/** Alias hops followed before an alias chain is called a loop (answered SERVFAIL). */
export const MAX_ALIAS_HOPS = 8;

/**
 * The agent's own instance as it sees it right now: it withdraws its stopped or unhealthy
 * containers from its answers at once, without waiting for the director's next push.
 */
export interface LocalInstanceView {
  deployment: string;
  group: string;
  index: number;
  /** False while the instance is stopped on purpose. */
  running: boolean;
  /** Per container of the applied spec: running, and healthy where it has a health check. */
  containers: Map<string, boolean>;
}

export interface DnsLookup {
  rcode: DnsRcode;
  answers: DnsRecord[];
  additionals: DnsRecord[];
  /** The zone's SOA for negative answers (NXDOMAIN, NODATA), so they are cached no longer than the TTL. */
  authorities: DnsRecord[];
}

interface NameEntry {
  addresses: string[];
  srv: Array<{ port: number; target: string; address: string }>;
  alias?: string;
}

const lower = (n: string): string => n.toLowerCase().replace(/\.$/, '');

export class DnsResolver {
  private names = new Map<string, NameEntry>();
  /** Every name and every suffix of one (empty non-terminals): NODATA rather than NXDOMAIN. */
  private known = new Set<string>();
  private set: DnsRecordSet = { version: 0, instances: [], aliases: [] };
  private local: LocalInstanceView | null = null;
  private rotation = 0;

  constructor(set?: DnsRecordSet) {
    if (set) this.setRecords(set);
    else this.rebuild();
  }

  setRecords(set: DnsRecordSet): void {
    this.set = set;
    this.rebuild();
  }

  setLocal(local: LocalInstanceView | null): void {
    this.local = local;
    this.rebuild();
  }

  /** Whether bosun answers this name itself (under `.bosun`, or an alias); the rest is forwarded. */
  answers(name: string): boolean {
    const q = lower(name);
    return isBosunDnsName(q) || this.names.has(q);
  }

  /**
   * Answers one question; `name` in any case, with or without the trailing dot. Null for a name
   * bosun does not answer (see `answers`): the caller forwards it.
   */
  lookup(name: string, type: string): DnsLookup | null {
    const q = lower(name);
    if (!this.answers(q)) return null;
    const resolved = this.follow(q);
    if (resolved === 'loop') return { rcode: 'SERVFAIL', answers: [], additionals: [], authorities: [] };
    const entry = resolved === null ? undefined : this.names.get(resolved);
    if (!entry) {
      // A dangling alias is NXDOMAIN, like a CNAME to a name that does not exist.
      const exists = resolved !== null && this.known.has(resolved);
      return { rcode: exists ? 'NOERROR' : 'NXDOMAIN', answers: [], additionals: [], authorities: [this.soa()] };
    }
    const answers: DnsRecord[] = [];
    const additionals: DnsRecord[] = [];
    const wantA = type === 'A' || type === 'ANY';
    const wantSrv = type === 'SRV' || type === 'ANY';
    if (wantA) for (const address of this.rotate(entry.addresses)) answers.push({ type: 'A', name, ttl: DNS_TTL_S, address });
    if (wantSrv) {
      for (const s of entry.srv) {
        answers.push({ type: 'SRV', name, ttl: DNS_TTL_S, priority: 0, weight: 1, port: s.port, target: s.target });
        if (!additionals.some((a) => a.name === s.target)) additionals.push({ type: 'A', name: s.target, ttl: DNS_TTL_S, address: s.address });
      }
    }
    if (type === 'SOA' && q === DNS_DOMAIN) answers.push(this.soa());
    return { rcode: 'NOERROR', answers, additionals, authorities: answers.length === 0 ? [this.soa()] : [] };
  }

  /** The name an alias chain ends at (the name itself when it is no alias); null when it ends nowhere. */
  private follow(name: string): string | 'loop' | null {
    let at = name;
    const seen = new Set<string>([at]);
    for (let hop = 0; hop <= MAX_ALIAS_HOPS; hop++) {
      const entry = this.names.get(at);
      if (entry?.alias === undefined) return entry || this.known.has(at) || hop === 0 ? at : null;
      at = entry.alias;
      if (seen.has(at)) return 'loop';
      seen.add(at);
    }
    return 'loop';
  }

  private rotate(addresses: string[]): string[] {
    if (addresses.length < 2) return addresses;
    const n = this.rotation++ % addresses.length;
    return [...addresses.slice(n), ...addresses.slice(0, n)];
  }

  private soa(): DnsRecord {
    return {
      type: 'SOA',
      name: DNS_DOMAIN,
      ttl: DNS_TTL_S,
      mname: `ns.${DNS_DOMAIN}`,
      rname: `hostmaster.${DNS_DOMAIN}`,
      serial: this.set.version >>> 0,
      refresh: 60,
      retry: 60,
      expire: 3600,
      minimum: DNS_TTL_S,
    };
  }

  private rebuild(): void {
    const names = new Map<string, NameEntry>();
    const known = new Set<string>();
    const entry = (n: string): NameEntry => {
      let e = names.get(n);
      if (!e) {
        e = { addresses: [], srv: [] };
        names.set(n, e);
      }
      return e;
    };
    const leaves = new Set<string>();
    const know = (n: string): void => {
      leaves.add(n);
      for (let at = n; at.includes('.'); at = at.slice(at.indexOf('.') + 1)) known.add(at);
      known.add(DNS_DOMAIN);
    };
    const instances = [...this.set.instances].sort((a, b) => a.deployment.localeCompare(b.deployment) || a.group.localeCompare(b.group) || a.index - b.index);
    for (const i of instances) {
      const group = groupDnsName(i.deployment, i.group);
      know(group);
      const up = this.instanceUp(i);
      if (up) entry(group).addresses.push(i.address as string);
      for (const c of i.containers) {
        const all = containerDnsName(i.deployment, i.group, c.name);
        const one = instanceDnsName(i.deployment, i.group, c.name, i.index);
        know(all);
        know(one);
        for (const p of c.ports) know(srvDnsName(i.deployment, i.group, c.name, p.protocol));
        if (!up || !this.containerUp(i, c.name, c.healthy)) continue;
        entry(all).addresses.push(i.address as string);
        entry(one).addresses.push(i.address as string);
        for (const p of c.ports) entry(srvDnsName(i.deployment, i.group, c.name, p.protocol)).srv.push({ port: p.port, target: one, address: i.address as string });
      }
    }
    for (const a of this.set.aliases) {
      const name = lower(a.name);
      if (leaves.has(name)) continue; // a name of an instance wins over an alias of the same name
      names.set(name, { addresses: [], srv: [], alias: lower(a.target) });
      // Under .bosun its parents exist too; outside it (`db.internal`) only the name itself is bosun's.
      if (isBosunDnsName(name)) know(name);
      else known.add(name);
    }
    this.names = names;
    this.known = known;
  }

  private instanceUp(i: DnsInstance): boolean {
    if (!i.running || !i.address) return false;
    return this.isLocal(i) ? (this.local as LocalInstanceView).running : true;
  }

  /** The set's word, except for this agent's own instance: there what the agent sees now counts. */
  private containerUp(i: DnsInstance, container: string, healthy: boolean): boolean {
    if (!this.isLocal(i)) return healthy;
    return this.local?.containers.get(container) ?? healthy;
  }

  private isLocal(i: DnsInstance): boolean {
    const l = this.local;
    return l !== null && l.deployment === i.deployment && l.group === i.group && l.index === i.index;
  }
}
