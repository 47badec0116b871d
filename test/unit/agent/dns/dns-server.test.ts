import { createSocket, type Socket } from 'node:dgram';
import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { DnsServer, answerMessage } from '../../../../src/agent/dns/dns-server.js';
import { DnsResolver } from '../../../../src/agent/dns/dns-resolver.js';
import { DnsForwarder, upstreamsFromResolvConf, type DnsUpstream } from '../../../../src/agent/dns/dns-forwarder.js';
import { decodeQuery, encodeAnswer } from '../../../../src/agent/dns/dns-wire.js';
import { silentLogger } from '../../../../src/common/logger.js';
import { askDns } from '../../../helpers/dns-client.js';
import { instance, recordSet } from './dns-fixtures.js';

const HOST = '127.0.0.1';

/** An upstream resolver (UDP and TCP) answering every A question with 192.0.2.7. */
async function fakeUpstream(): Promise<{ upstream: DnsUpstream; asked: string[]; close: () => void }> {
  const asked: string[] = [];
  const answer = (m: Buffer, transport: string): Buffer => {
    const q = decodeQuery(m);
    asked.push(`${transport}:${q.questions[0]?.name ?? ''}`);
    return encodeAnswer(q, { rcode: 'NOERROR', authoritative: false, answers: [{ type: 'A', name: q.questions[0]?.name ?? '', ttl: 60, address: '192.0.2.7' }], authorities: [], additionals: [] });
  };
  const s: Socket = createSocket('udp4');
  s.on('message', (m, peer) => s.send(answer(m, 'udp'), peer.port, peer.address));
  await new Promise<void>((r) => s.bind(0, HOST, r));
  const tcp = createServer((c) => {
    c.on('data', (d: Buffer) => {
      const a = answer(d.subarray(2), 'tcp');
      const len = Buffer.alloc(2);
      len.writeUInt16BE(a.length);
      c.end(Buffer.concat([len, a]));
    });
  });
  await new Promise<void>((r) => tcp.listen(s.address().port, HOST, r));
  return {
    upstream: { host: HOST, port: s.address().port },
    asked,
    close: () => {
      s.close();
      tcp.close();
    },
  };
}

describe('DNS server (UDP and TCP on a socket)', () => {
  const closing: Array<() => unknown> = [];
  afterEach(async () => {
    for (const c of closing.splice(0)) await c();
  });

  async function serve(resolver: DnsResolver, upstreams: DnsUpstream[] = []): Promise<DnsServer> {
    const server = await DnsServer.create({ host: HOST, port: 0, resolver, forwarder: new DnsForwarder(upstreams, 500), log: silentLogger });
    closing.push(() => server.close());
    return server;
  }

  it('answers A and SRV for names under .bosun over UDP and TCP, authoritatively, with a 1 s TTL', async () => {
    const server = await serve(new DnsResolver(recordSet(1, [instance(0, '10.0.0.1')])));
    for (const transport of ['udp', 'tcp'] as const) {
      const a = await askDns(HOST, server.port, 'REDIS.db.prod.bosun', 'A', { transport });
      expect(a).toMatchObject({ rcode: 'NOERROR', authoritative: true, truncated: false });
      expect(a.answers).toEqual([{ type: 'A', name: 'REDIS.db.prod.bosun', ttl: 1, address: '10.0.0.1' }]);
      const srv = await askDns(HOST, server.port, '_redis._tcp.db.prod.bosun', 'SRV', { transport });
      expect(srv.answers).toMatchObject([{ type: 'SRV', port: 6379, target: '0.redis.db.prod.bosun' }]);
      expect(srv.additionals).toMatchObject([{ type: 'A', name: '0.redis.db.prod.bosun', address: '10.0.0.1' }]);
    }
  });

  it('answers NXDOMAIN for unknown names and NODATA for another type', async () => {
    const server = await serve(new DnsResolver(recordSet(1, [instance(0, '10.0.0.1')])));
    expect(await askDns(HOST, server.port, 'nope.db.prod.bosun')).toMatchObject({ rcode: 'NXDOMAIN', answers: [] });
    expect(await askDns(HOST, server.port, 'redis.db.prod.bosun', 'AAAA')).toMatchObject({ rcode: 'NOERROR', answers: [] });
  });

  it('truncates a UDP answer that does not fit (512 bytes, or the EDNS size) and gives it whole over TCP', async () => {
    const many = Array.from({ length: 25 }, (_, i) => instance(i, `10.0.0.${i + 1}`));
    const server = await serve(new DnsResolver(recordSet(1, many)));
    const udp = await askDns(HOST, server.port, 'redis.db.prod.bosun', 'A');
    expect(udp.truncated).toBe(true);
    expect(udp.answers).toEqual([]);
    expect(udp.bytes).toBeLessThanOrEqual(512);
    // 25 A records (~900 bytes) fit into the 1232 bytes EDNS allows.
    const edns = await askDns(HOST, server.port, 'redis.db.prod.bosun', 'A', { ednsUdpSize: 4096 });
    expect(edns.truncated).toBe(false);
    expect(edns.answers).toHaveLength(25);
    // The SRV answer with 25 additionals does not fit even there; TCP has all of it.
    expect((await askDns(HOST, server.port, '_redis._tcp.db.prod.bosun', 'SRV', { ednsUdpSize: 4096 })).truncated).toBe(true);
    const tcp = await askDns(HOST, server.port, '_redis._tcp.db.prod.bosun', 'SRV', { transport: 'tcp' });
    expect(tcp.truncated).toBe(false);
    expect(tcp.answers).toHaveLength(25);
    expect(tcp.additionals).toHaveLength(25);
  });

  it('forwards other names to the upstream resolver, over UDP and TCP', async () => {
    const up = await fakeUpstream();
    closing.push(up.close);
    const server = await serve(new DnsResolver(), [up.upstream]);
    const a = await askDns(HOST, server.port, 'example.com');
    expect(a).toMatchObject({ rcode: 'NOERROR', authoritative: false });
    expect(a.answers).toMatchObject([{ type: 'A', address: '192.0.2.7' }]);
    const t = await askDns(HOST, server.port, 'example.org', 'A', { transport: 'tcp' });
    expect(t.answers).toMatchObject([{ type: 'A', address: '192.0.2.7' }]);
    expect(up.asked).toEqual(['udp:example.com', 'tcp:example.org']);
  });

  it('answers SERVFAIL at once when there is no upstream, or the upstream is not there', async () => {
    const none = await serve(new DnsResolver());
    let t0 = Date.now();
    expect((await askDns(HOST, none.port, 'example.com')).rcode).toBe('SERVFAIL');
    expect(Date.now() - t0).toBeLessThan(200);
    // Nothing listens on the upstream's port: refused at once, not after a timeout.
    const up = await fakeUpstream();
    up.close();
    const dead = await serve(new DnsResolver(), [up.upstream]);
    t0 = Date.now();
    expect((await askDns(HOST, dead.port, 'example.com')).rcode).toBe('SERVFAIL');
    expect(Date.now() - t0).toBeLessThan(200);
    expect((await askDns(HOST, dead.port, 'example.com', 'A', { transport: 'tcp' })).rcode).toBe('SERVFAIL');
  });

  it('answers names bosun holds at once, whatever the upstreams do', async () => {
    const server = await serve(new DnsResolver(recordSet(1, [instance(0, '10.0.0.1')], [{ name: 'db.internal', target: 'redis.db.prod.bosun' }])), [{ host: '192.0.2.1', port: 53 }]);
    expect((await askDns(HOST, server.port, 'db.internal')).answers).toMatchObject([{ address: '10.0.0.1' }]);
  });

  it('answers garbage with FORMERR and never answers an answer', async () => {
    const resolver = new DnsResolver();
    const forwarder = new DnsForwarder([]);
    const garbage = Buffer.from([0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff]);
    const formerr = await answerMessage(garbage, 'udp', resolver, forwarder, silentLogger);
    expect(formerr?.readUInt16BE(0)).toBe(0x1234);
    expect((formerr?.readUInt16BE(2) ?? 0) & 0xf).toBe(1);
    const answer = encodeAnswer({ id: 7, opcode: 'QUERY', recursionDesired: true, questions: [{ name: 'x.bosun', type: 'A', class: 'IN' }], ednsUdpSize: null }, { rcode: 'NOERROR', authoritative: true, answers: [], authorities: [], additionals: [] });
    expect(await answerMessage(answer, 'udp', resolver, forwarder, silentLogger)).toBeNull();
    expect(await answerMessage(Buffer.from([1, 2, 3]), 'udp', resolver, forwarder, silentLogger)).toBeNull();
  });

  it('reads the upstreams from resolv.conf, without its own address', () => {
    const text = '# comment\nsearch example\nnameserver 10.244.0.5\nnameserver 10.0.0.2\nnameserver  10.0.0.2\noptions ndots:1\n';
    expect(upstreamsFromResolvConf(text, ['10.244.0.5'])).toEqual([{ host: '10.0.0.2', port: 53 }]);
  });
});
