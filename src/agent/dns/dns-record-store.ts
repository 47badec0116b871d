/**
 * The record set an agent answers from, and how pushes change it (the contract of
 * src/common/contracts/dns-records.ts): a full push replaces the set, a delta applies to the
 * version it names, a push older than what the agent has is acknowledged and ignored. Shared by the
 * real agent (which also keeps the set on disk, dns-set-file.ts) and the fake cloud's agents.
 */
import { z } from 'zod';
import type { DnsInstance, DnsInstanceKey, DnsPush, DnsPushResult, DnsRecordSet } from '../../common/contracts/dns-records.js';
import { DnsVersionMismatchError, InvalidInputError } from '../../common/errors.js';

const version = z.number().int().nonnegative();
const instance = z.object({
  deployment: z.string().min(1),
  group: z.string().min(1),
  index: z.number().int().nonnegative(),
  instanceId: z.string(),
  address: z.string().nullable(),
  running: z.boolean(),
  containers: z.array(
    z.object({
      name: z.string().min(1),
      healthy: z.boolean(),
      ports: z.array(z.object({ port: z.number().int().min(1).max(65535), protocol: z.enum(['tcp', 'udp']) })),
    }),
  ),
});
const key = z.object({ deployment: z.string().min(1), group: z.string().min(1), index: z.number().int().nonnegative() });
const alias = z.object({ name: z.string().min(1), target: z.string().min(1) });
const recordSet = z.object({ version, instances: z.array(instance), aliases: z.array(alias) });
const push = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('full'), set: recordSet }),
  z.object({ kind: z.literal('delta'), baseVersion: version, version, upsert: z.array(instance), remove: z.array(key), aliases: z.array(alias).optional() }),
]);

/** The set of an agent that was never pushed one: version 0, nothing in it. */
export const EMPTY_DNS_SET: DnsRecordSet = { version: 0, instances: [], aliases: [] };

/** Validates a push from the wire; a malformed one is an InvalidInputError naming what is wrong. */
export function parseDnsPush(raw: unknown): DnsPush {
  const parsed = push.safeParse(raw);
  if (!parsed.success) {
    throw new InvalidInputError(`The DNS push is invalid: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; ')}. See src/common/contracts/dns-records.ts.`);
  }
  return parsed.data as DnsPush;
}

/** Validates a record set read back from disk (null when it is not one). */
export function parseDnsSet(raw: unknown): DnsRecordSet | null {
  const parsed = recordSet.safeParse(raw);
  return parsed.success ? (parsed.data as DnsRecordSet) : null;
}

const keyOf = (k: DnsInstanceKey): string => `${k.deployment}\u0000${k.group}\u0000${k.index}`;

export type DnsPushOutcome = 'replaced' | 'applied' | 'ignored';

export class DnsRecordStore {
  private current: DnsRecordSet;

  constructor(initial: DnsRecordSet = EMPTY_DNS_SET) {
    this.current = initial;
  }

  get version(): number {
    return this.current.version;
  }

  get set(): DnsRecordSet {
    return this.current;
  }

  /**
   * Applies a validated push. Throws DnsVersionMismatchError (409, details `{ version }`) for a
   * delta against a version this agent does not have; the director then sends the whole set.
   */
  apply(p: DnsPush): { result: DnsPushResult; outcome: DnsPushOutcome } {
    const have = this.current.version;
    if (p.kind === 'full') {
      // Equal versions replace too: a repeated push is harmless, and it repairs a set lost on disk.
      if (p.set.version < have) return { result: { version: have }, outcome: 'ignored' };
      this.current = { version: p.set.version, instances: [...p.set.instances], aliases: [...p.set.aliases] };
      return { result: { version: this.current.version }, outcome: 'replaced' };
    }
    if (p.version <= have) return { result: { version: have }, outcome: 'ignored' };
    if (p.baseVersion !== have) {
      throw new DnsVersionMismatchError(
        `This agent answers DNS from record set version ${have}, not ${p.baseVersion}: the delta to version ${p.version} does not apply; push the whole set.`,
        { details: { version: have } },
      );
    }
    const byKey = new Map<string, DnsInstance>(this.current.instances.map((i) => [keyOf(i), i]));
    for (const k of p.remove) byKey.delete(keyOf(k));
    for (const i of p.upsert) byKey.set(keyOf(i), i);
    this.current = { version: p.version, instances: [...byKey.values()], aliases: p.aliases ? [...p.aliases] : this.current.aliases };
    return { result: { version: p.version }, outcome: 'applied' };
  }
}
