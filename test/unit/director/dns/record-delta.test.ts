import { describe, expect, it } from 'vitest';
import type { DnsInstance, DnsRecordSet } from '../../../../src/common/contracts/dns-records.js';
import { applyPush, deltaPush, pushFor, sameRecords } from '../../../../src/director/dns/record-delta.js';

const inst = (group: string, index: number, healthy = true): DnsInstance => ({
  deployment: 'prod',
  group,
  index,
  instanceId: `${group}-${index}`,
  address: `10.0.0.${index + 2}`,
  running: true,
  containers: [{ name: 'c', healthy, ports: [] }],
});

const set = (version: number, instances: DnsInstance[], aliases = [{ name: 'db.internal', target: 'c.db.prod.bosun' }]): DnsRecordSet => ({ version, instances, aliases });

describe('record set versions and deltas', () => {
  const v1 = set(1, [inst('db', 0), inst('db', 1), inst('web', 0)]);

  it('a delta carries only changed and new instances, the removed keys, and the aliases only when they changed', () => {
    const v2 = set(2, [inst('db', 0), inst('db', 1, false), inst('web', 1)]);
    const d = deltaPush(v1, v2);
    expect(d).toEqual({
      kind: 'delta',
      baseVersion: 1,
      version: 2,
      upsert: [inst('db', 1, false), inst('web', 1)],
      remove: [{ deployment: 'prod', group: 'web', index: 0 }],
    });
    const v3 = set(3, v2.instances, []);
    expect(deltaPush(v2, v3)).toMatchObject({ upsert: [], remove: [], aliases: [] });
  });

  it('applying the delta to the base gives the next set', () => {
    const v2 = set(2, [inst('db', 1, false), inst('web', 0), inst('web', 1)], []);
    const got = applyPush(v1, deltaPush(v1, v2));
    expect(sameRecords({ instances: [...got.instances].sort((a, b) => a.instanceId.localeCompare(b.instanceId)), aliases: got.aliases }, v2)).toBe(true);
    expect(got.version).toBe(2);
    expect(() => applyPush(set(5, []), deltaPush(v1, v2))).toThrow(/version 1/);
  });

  it('sends the whole set to an agent with no known version, and when the delta would not be smaller', () => {
    const v2 = set(2, [inst('db', 0, false), inst('db', 1, false), inst('web', 0, false)]);
    expect(pushFor(undefined, v2)).toEqual({ kind: 'full', set: v2 });
    expect(pushFor(v1, v2).kind).toBe('full');
    expect(pushFor(v1, set(2, [inst('db', 0, false), inst('db', 1), inst('web', 0)])).kind).toBe('delta');
  });

  it('tells equal records apart from changed ones, versions aside', () => {
    expect(sameRecords(v1, set(9, v1.instances))).toBe(true);
    expect(sameRecords(v1, set(1, [inst('db', 0, false), inst('db', 1), inst('web', 0)]))).toBe(false);
    expect(sameRecords(v1, set(1, v1.instances, []))).toBe(false);
  });
});
