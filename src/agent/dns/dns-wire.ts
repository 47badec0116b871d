/**
 * The DNS wire format, behind the slice bosun uses (CONVENTIONS #13): decoding a query and
 * encoding an answer, with UDP truncation. Only this file imports dns-packet (docs/libraries.md).
 */
import dnsPacket from 'dns-packet';

export type DnsRcode = 'NOERROR' | 'FORMERR' | 'SERVFAIL' | 'NXDOMAIN' | 'NOTIMP' | 'REFUSED';

const RCODE: Record<DnsRcode, number> = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 };

/** The largest UDP answer sent even when a client offers more (the DNS flag day's figure: no IP fragments). */
export const MAX_UDP_PAYLOAD = 1232;
/** A UDP answer without EDNS is at most this (RFC 1035). */
export const CLASSIC_UDP_PAYLOAD = 512;

export interface DnsQuestion {
  /** As the client wrote it (case kept: answers echo it). */
  name: string;
  /** 'A', 'SRV', 'AAAA' … or 'UNKNOWN_<n>'. */
  type: string;
  class: string;
}

export type DnsRecord =
  | { type: 'A'; name: string; ttl: number; address: string }
  | { type: 'SRV'; name: string; ttl: number; priority: number; weight: number; port: number; target: string }
  | { type: 'SOA'; name: string; ttl: number; mname: string; rname: string; serial: number; refresh: number; retry: number; expire: number; minimum: number };

export interface DnsQuery {
  id: number;
  opcode: string;
  recursionDesired: boolean;
  questions: DnsQuestion[];
  /** The UDP payload size the client offers with EDNS (OPT record); null without EDNS. */
  ednsUdpSize: number | null;
}

export interface DnsAnswer {
  rcode: DnsRcode;
  /** Set for names bosun answers itself (under .bosun). */
  authoritative: boolean;
  answers: DnsRecord[];
  authorities: DnsRecord[];
  additionals: DnsRecord[];
}

export class DnsFormatError extends Error {}

export function decodeQuery(message: Buffer): DnsQuery {
  let p: dnsPacket.DecodedPacket;
  try {
    p = dnsPacket.decode(message);
  } catch (err) {
    throw new DnsFormatError(`not a DNS message: ${(err as Error).message}`);
  }
  if (p.type !== 'query') throw new DnsFormatError('not a query');
  const opt = (p.additionals ?? []).find((a) => a.type === 'OPT') as dnsPacket.OptAnswer | undefined;
  return {
    id: p.id ?? 0,
    opcode: (p as { opcode?: string }).opcode ?? 'QUERY',
    recursionDesired: ((p.flags ?? 0) & dnsPacket.RECURSION_DESIRED) !== 0,
    questions: (p.questions ?? []).map((q) => ({ name: q.name, type: q.type, class: q.class ?? 'IN' })),
    ednsUdpSize: opt ? opt.udpPayloadSize : null,
  };
}

/** The id of a message too broken to decode (for a FORMERR answer); null when even the header is missing. */
export function messageId(message: Buffer): number | null {
  return message.length >= 12 ? message.readUInt16BE(0) : null;
}

/** The most a UDP answer to this query may take: 512 bytes, or the client's EDNS size up to MAX_UDP_PAYLOAD. */
export function udpLimitOf(query: DnsQuery): number {
  if (query.ednsUdpSize === null) return CLASSIC_UDP_PAYLOAD;
  return Math.max(CLASSIC_UDP_PAYLOAD, Math.min(query.ednsUdpSize, MAX_UDP_PAYLOAD));
}

/**
 * Encodes the answer to `query`. With `limitBytes` (UDP), an answer that does not fit is sent
 * without records and with the TC flag, so that the client asks again over TCP.
 */
export function encodeAnswer(query: DnsQuery, answer: DnsAnswer, limitBytes: number | null = null): Buffer {
  const packet = (records: boolean, truncated: boolean): dnsPacket.Packet => {
    let flags = dnsPacket.RECURSION_AVAILABLE | RCODE[answer.rcode];
    if (query.recursionDesired) flags |= dnsPacket.RECURSION_DESIRED;
    if (answer.authoritative) flags |= dnsPacket.AUTHORITATIVE_ANSWER;
    if (truncated) flags |= dnsPacket.TRUNCATED_RESPONSE;
    const additionals: dnsPacket.Answer[] = records ? answer.additionals.map(toWire) : [];
    if (query.ednsUdpSize !== null) additionals.push({ type: 'OPT', name: '.', udpPayloadSize: MAX_UDP_PAYLOAD, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] } as dnsPacket.OptAnswer);
    return {
      type: 'response',
      id: query.id,
      flags,
      questions: query.questions.map((q) => ({ name: q.name, type: q.type as dnsPacket.RecordType, class: q.class as dnsPacket.RecordClass })),
      answers: records ? answer.answers.map(toWire) : [],
      authorities: records ? answer.authorities.map(toWire) : [],
      additionals,
    };
  };
  const whole = dnsPacket.encode(packet(true, false));
  if (limitBytes === null || whole.length <= limitBytes) return whole;
  return dnsPacket.encode(packet(false, true));
}

/** An answer with no records, for a query that could be decoded. */
export function emptyAnswer(rcode: DnsRcode, authoritative = false): DnsAnswer {
  return { rcode, authoritative, answers: [], authorities: [], additionals: [] };
}

/**
 * FORMERR for a message that could not be decoded (its id echoed); null when it has no header or
 * is itself an answer (QR set): answering answers could bounce between two servers forever.
 */
export function encodeFormatError(message: Buffer): Buffer | null {
  const id = messageId(message);
  if (id === null || ((message[2] ?? 0) & 0x80) !== 0) return null;
  return dnsPacket.encode({ type: 'response', id, flags: RCODE.FORMERR, questions: [], answers: [], authorities: [], additionals: [] });
}

/** Replaces the id of a raw message (a forwarded answer goes back with the client's id). */
export function withId(message: Buffer, id: number): Buffer {
  const copy = Buffer.from(message);
  if (copy.length >= 2) copy.writeUInt16BE(id, 0);
  return copy;
}

/** Decodes an answer (for tests, the benchmark and the forwarder's checks). */
export function decodeAnswer(message: Buffer): { id: number; rcode: string; truncated: boolean; authoritative: boolean; answers: DnsRecord[]; authorities: DnsRecord[]; additionals: DnsRecord[] } {
  const p = dnsPacket.decode(message);
  const records = (list: dnsPacket.Answer[] | undefined): DnsRecord[] => (list ?? []).flatMap(fromWire);
  return {
    id: p.id ?? 0,
    rcode: (p as { rcode?: string }).rcode ?? 'NOERROR',
    truncated: p.flag_tc ?? false,
    authoritative: p.flag_aa ?? false,
    answers: records(p.answers),
    authorities: records(p.authorities),
    additionals: records(p.additionals),
  };
}

/** Encodes a query (tests, the benchmark). */
export function encodeQuery(id: number, name: string, type: string, options: { ednsUdpSize?: number } = {}): Buffer {
  const additionals: dnsPacket.Answer[] = [];
  if (options.ednsUdpSize !== undefined) additionals.push({ type: 'OPT', name: '.', udpPayloadSize: options.ednsUdpSize, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] } as dnsPacket.OptAnswer);
  return dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ name, type: type as dnsPacket.RecordType, class: 'IN' }], additionals });
}

function toWire(r: DnsRecord): dnsPacket.Answer {
  switch (r.type) {
    case 'A':
      return { type: 'A', name: r.name, ttl: r.ttl, class: 'IN', data: r.address };
    case 'SRV':
      return { type: 'SRV', name: r.name, ttl: r.ttl, class: 'IN', data: { priority: r.priority, weight: r.weight, port: r.port, target: r.target } };
    case 'SOA':
      return {
        type: 'SOA',
        name: r.name,
        ttl: r.ttl,
        class: 'IN',
        data: { mname: r.mname, rname: r.rname, serial: r.serial, refresh: r.refresh, retry: r.retry, expire: r.expire, minimum: r.minimum },
      };
  }
}

function fromWire(a: dnsPacket.Answer): DnsRecord[] {
  if (a.type === 'A') return [{ type: 'A', name: a.name, ttl: a.ttl ?? 0, address: a.data }];
  if (a.type === 'SRV') return [{ type: 'SRV', name: a.name, ttl: a.ttl ?? 0, priority: a.data.priority ?? 0, weight: a.data.weight ?? 0, port: a.data.port, target: a.data.target }];
  if (a.type === 'SOA') {
    const d = a.data;
    return [{ type: 'SOA', name: a.name, ttl: a.ttl ?? 0, mname: d.mname, rname: d.rname, serial: d.serial ?? 0, refresh: d.refresh ?? 0, retry: d.retry ?? 0, expire: d.expire ?? 0, minimum: d.minimum ?? 0 }];
  }
  return [];
}
