/**
 * Versions and deltas of the record set: whether two sets differ, and the delta push that turns
 * the set an agent acknowledged into the current one (dns-records.ts DnsPush).
 */
import type { DnsAlias, DnsInstance, DnsPush, DnsRecordSet } from '../../common/contracts/dns-records.js';
import { instanceKey, type DnsRecords } from './record-builder.js';

const sameJson = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

/** Whether two sets hold the same records (versions aside); both come sorted from the builder. */
export function sameRecords(a: DnsRecords, b: DnsRecords): boolean {
  return sameJson(a.instances, b.instances) && sameJson(a.aliases, b.aliases);
}

/** The delta from `base` (what the agent has) to `next`. */
export function deltaPush(base: DnsRecordSet, next: DnsRecordSet): Extract<DnsPush, { kind: 'delta' }> {
  const before = new Map(base.instances.map((i) => [instanceKey(i), i]));
  const upsert: DnsInstance[] = [];
  for (const i of next.instances) {
    const old = before.get(instanceKey(i));
    before.delete(instanceKey(i));
    if (old === undefined || !sameJson(old, i)) upsert.push(i);
  }
  const remove = [...before.values()].map((i) => ({ deployment: i.deployment, group: i.group, index: i.index }));
  const push: Extract<DnsPush, { kind: 'delta' }> = { kind: 'delta', baseVersion: base.version, version: next.version, upsert, remove };
  if (!sameJson(base.aliases, next.aliases)) push.aliases = next.aliases;
  return push;
}

/** What an agent does with a push (tests of the delta, and the fake agents' model of it). */
export function applyPush(current: DnsRecordSet | null, push: DnsPush): DnsRecordSet {
  if (push.kind === 'full') return push.set;
  if (current === null || current.version !== push.baseVersion) throw new Error(`delta against version ${push.baseVersion} applied to ${current?.version ?? 'nothing'}`);
  const byKey = new Map(current.instances.map((i) => [instanceKey(i), i]));
  for (const k of push.remove) byKey.delete(instanceKey(k));
  for (const i of push.upsert) byKey.set(instanceKey(i), i);
  const aliases: DnsAlias[] = push.aliases ?? current.aliases;
  return { version: push.version, instances: [...byKey.values()], aliases };
}

/** Which push is smaller to send: a delta with fewer instances than the whole set, else the set. */
export function pushFor(base: DnsRecordSet | undefined, next: DnsRecordSet): DnsPush {
  if (base === undefined || base.version >= next.version) return { kind: 'full', set: next };
  const delta = deltaPush(base, next);
  return delta.upsert.length + delta.remove.length < next.instances.length || next.instances.length === 0 ? delta : { kind: 'full', set: next };
}
