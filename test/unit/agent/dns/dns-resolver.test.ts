import { describe, expect, it } from 'vitest';
import { DNS_TTL_S, DnsResolver } from '../../../../src/agent/dns/dns-resolver.js';
import { linkAliasDnsName } from '../../../../src/common/dns-names.js';
import { instance, recordSet } from './dns-fixtures.js';

const addresses = (r: DnsResolver, name: string): string[] =>
  (r.lookup(name, 'A')?.answers ?? []).map((a) => (a.type === 'A' ? a.address : '?')).sort();

describe('DNS resolver (answers from a record set)', () => {
  const set = recordSet(3, [instance(0, '10.0.0.1'), instance(1, '10.0.0.2', { redisHealthy: false }), instance(2, '10.0.0.3', { running: false }), instance(3, null)]);

  it('answers A for the group (running instances), the container (healthy ones) and one instance', () => {
    const r = new DnsResolver(set);
    expect(addresses(r, 'db.prod.bosun')).toEqual(['10.0.0.1', '10.0.0.2']);
    expect(addresses(r, 'redis.db.prod.bosun')).toEqual(['10.0.0.1']);
    expect(addresses(r, 'exporter.db.prod.bosun')).toEqual(['10.0.0.1', '10.0.0.2']);
    expect(addresses(r, '0.redis.db.prod.bosun')).toEqual(['10.0.0.1']);
    expect(addresses(r, '1.exporter.db.prod.bosun')).toEqual(['10.0.0.2']);
  });

  it('is case-insensitive, keeps the asked case in the answer, and answers with a TTL of at most 5 s', () => {
    const r = new DnsResolver(set);
    const got = r.lookup('ReDiS.Db.PROD.bosun.', 'A');
    expect(got?.rcode).toBe('NOERROR');
    expect(got?.answers).toEqual([{ type: 'A', name: 'ReDiS.Db.PROD.bosun.', ttl: DNS_TTL_S, address: '10.0.0.1' }]);
    expect(DNS_TTL_S).toBeLessThanOrEqual(5);
  });

  it('answers SRV per healthy instance and port, targeting the per-instance name, with its A as additional', () => {
    const r = new DnsResolver(recordSet(1, [instance(0, '10.0.0.1'), instance(1, '10.0.0.2')]));
    const got = r.lookup('_redis._tcp.db.prod.bosun', 'SRV');
    expect(got?.answers).toEqual([
      { type: 'SRV', name: '_redis._tcp.db.prod.bosun', ttl: DNS_TTL_S, priority: 0, weight: 1, port: 6379, target: '0.redis.db.prod.bosun' },
      { type: 'SRV', name: '_redis._tcp.db.prod.bosun', ttl: DNS_TTL_S, priority: 0, weight: 1, port: 6379, target: '1.redis.db.prod.bosun' },
    ]);
    expect(got?.additionals).toEqual([
      { type: 'A', name: '0.redis.db.prod.bosun', ttl: DNS_TTL_S, address: '10.0.0.1' },
      { type: 'A', name: '1.redis.db.prod.bosun', ttl: DNS_TTL_S, address: '10.0.0.2' },
    ]);
  });

  it('NXDOMAIN for unknown names under .bosun; NODATA for a known name asked for another type or with nobody up', () => {
    const r = new DnsResolver(set);
    for (const name of ['nope.db.prod.bosun', '7.redis.db.prod.bosun', 'db.staging.bosun', '_redis._udp.db.prod.bosun']) {
      expect(r.lookup(name, 'A'), name).toMatchObject({ rcode: 'NXDOMAIN', answers: [] });
    }
    expect(r.lookup('redis.db.prod.bosun', 'AAAA')).toMatchObject({ rcode: 'NOERROR', answers: [] });
    expect(r.lookup('redis.db.prod.bosun', 'SRV')).toMatchObject({ rcode: 'NOERROR', answers: [] });
    expect(r.lookup('_redis._tcp.db.prod.bosun', 'A')).toMatchObject({ rcode: 'NOERROR', answers: [] });
    // Instance 1's redis is unhealthy: its name exists, with nothing to answer now.
    expect(r.lookup('1.redis.db.prod.bosun', 'A')).toMatchObject({ rcode: 'NOERROR', answers: [] });
    // Parents of names exist too (empty non-terminals).
    expect(r.lookup('prod.bosun', 'A')).toMatchObject({ rcode: 'NOERROR', answers: [] });
    // Negative answers carry the zone's SOA with the same short TTL.
    expect(r.lookup('nope.db.prod.bosun', 'A')?.authorities[0]).toMatchObject({ type: 'SOA', name: 'bosun', minimum: DNS_TTL_S });
  });

  it('leaves names outside .bosun to the forwarder', () => {
    const r = new DnsResolver(set);
    expect(r.lookup('example.com', 'A')).toBeNull();
    expect(r.answers('example.com')).toBe(false);
  });

  it('answers an alias like its target, through chains, outside .bosun too, and a loop with SERVFAIL', () => {
    const link = linkAliasDnsName('prod', 'app', 'web', 'cache');
    const r = new DnsResolver(
      recordSet(1, [instance(0, '10.0.0.1')], [
        { name: 'db.internal', target: 'redis.db.prod.bosun' },
        { name: link, target: 'db.internal' },
        { name: 'first.prod.bosun', target: '0.redis.db.prod.bosun' },
        { name: 'loop-a.prod.bosun', target: 'loop-b.prod.bosun' },
        { name: 'loop-b.prod.bosun', target: 'loop-a.prod.bosun' },
        { name: 'dangling.prod.bosun', target: 'nothing.db.prod.bosun' },
        { name: 'srv.prod.bosun', target: '_redis._tcp.db.prod.bosun' },
      ]),
    );
    expect(addresses(r, 'DB.internal')).toEqual(['10.0.0.1']);
    expect(addresses(r, link)).toEqual(['10.0.0.1']);
    expect(r.lookup(link, 'A')?.answers[0]?.name).toBe(link);
    expect(addresses(r, 'first.prod.bosun')).toEqual(['10.0.0.1']);
    expect(r.lookup('loop-a.prod.bosun', 'A')?.rcode).toBe('SERVFAIL');
    expect(r.lookup('dangling.prod.bosun', 'A')?.rcode).toBe('NXDOMAIN');
    expect(r.lookup('srv.prod.bosun', 'SRV')?.answers).toHaveLength(1);
    // Only the alias itself is bosun's outside .bosun: its parent domain is still forwarded.
    expect(r.lookup('internal', 'A')).toBeNull();
  });

  it('an alias never hides a name of an instance', () => {
    const r = new DnsResolver(recordSet(1, [instance(0, '10.0.0.1'), instance(1, '10.0.0.2')], [{ name: 'redis.db.prod.bosun', target: '1.redis.db.prod.bosun' }]));
    expect(addresses(r, 'redis.db.prod.bosun')).toEqual(['10.0.0.1', '10.0.0.2']);
  });

  it('withdraws its own instance’s down containers at once, and takes them back when they run again', () => {
    const r = new DnsResolver(recordSet(1, [instance(0, '10.0.0.1'), instance(1, '10.0.0.2')]));
    const local = { deployment: 'prod', group: 'db', index: 1, running: true, containers: new Map([['redis', false], ['exporter', true]]) };
    r.setLocal(local);
    expect(addresses(r, 'redis.db.prod.bosun')).toEqual(['10.0.0.1']);
    expect(addresses(r, '1.redis.db.prod.bosun')).toEqual([]);
    expect(r.lookup('_redis._tcp.db.prod.bosun', 'SRV')?.answers).toHaveLength(1);
    expect(addresses(r, 'exporter.db.prod.bosun')).toEqual(['10.0.0.1', '10.0.0.2']);
    // Stopped on purpose: out of the group's answers too.
    r.setLocal({ ...local, running: false });
    expect(addresses(r, 'db.prod.bosun')).toEqual(['10.0.0.1']);
    // Running and healthy again: back before the director's next push.
    r.setLocal({ ...local, containers: new Map([['redis', true], ['exporter', true]]) });
    expect(addresses(r, 'redis.db.prod.bosun')).toEqual(['10.0.0.1', '10.0.0.2']);
    // Another instance's view is the director's: the local view only speaks for this one.
    r.setLocal({ ...local, index: 5 });
    expect(addresses(r, 'redis.db.prod.bosun')).toEqual(['10.0.0.1', '10.0.0.2']);
  });

  it('never answers an instance the director says is not running, whatever the local view', () => {
    const r = new DnsResolver(recordSet(1, [instance(0, '10.0.0.1', { running: false })]));
    r.setLocal({ deployment: 'prod', group: 'db', index: 0, running: true, containers: new Map([['redis', true]]) });
    expect(addresses(r, 'redis.db.prod.bosun')).toEqual([]);
  });

  it('rotates the addresses of a name from one answer to the next', () => {
    const r = new DnsResolver(recordSet(1, [instance(0, '10.0.0.1'), instance(1, '10.0.0.2')]));
    const firsts = new Set([0, 1, 2, 3].map(() => (r.lookup('db.prod.bosun', 'A')?.answers[0] as { address: string }).address));
    expect(firsts).toEqual(new Set(['10.0.0.1', '10.0.0.2']));
  });
});
