/**
 * The VM's DNS server: UDP and TCP on the VM's own address (port 53). Names bosun answers
 * (under `.bosun`, and aliases) come from the resolver; the rest goes to the forwarder. A UDP
 * answer that does not fit (512 bytes, or the client's EDNS size) is truncated (TC) so the client
 * asks again over TCP.
 */
import { createSocket, type Socket } from 'node:dgram';
import { createServer, type Server, type Socket as TcpSocket } from 'node:net';
import type { Logger } from '../../common/logger.js';
import { errorMessage } from '../../common/errors.js';
import type { DnsForwarder } from './dns-forwarder.js';
import type { DnsResolver } from './dns-resolver.js';
import { DnsFormatError, decodeQuery, emptyAnswer, encodeAnswer, encodeFormatError, udpLimitOf, withId, type DnsQuery } from './dns-wire.js';

/** A TCP client that says nothing for this long is disconnected. */
const TCP_IDLE_MS = 10_000;

export interface DnsServerOptions {
  host: string;
  /** 53 on a VM; 0 picks a free port (tests). */
  port: number;
  resolver: DnsResolver;
  forwarder: DnsForwarder;
  log: Logger;
}

/** Answers one raw DNS message; null when there is nothing to send back (not even a header). */
export async function answerMessage(message: Buffer, transport: 'udp' | 'tcp', resolver: DnsResolver, forwarder: DnsForwarder, log: Logger): Promise<Buffer | null> {
  let query: DnsQuery;
  try {
    query = decodeQuery(message);
  } catch (err) {
    if (err instanceof DnsFormatError) return encodeFormatError(message);
    throw err;
  }
  const limit = transport === 'udp' ? udpLimitOf(query) : null;
  if (query.opcode !== 'QUERY') return encodeAnswer(query, emptyAnswer('NOTIMP'), limit);
  const question = query.questions[0];
  if (query.questions.length !== 1 || !question) return encodeAnswer(query, emptyAnswer('FORMERR'), limit);
  const local = question.class === 'IN' || question.class === 'ANY' ? resolver.lookup(question.name, question.type) : null;
  if (local) return encodeAnswer(query, { ...local, authoritative: true }, limit);
  const forwarded = await forwarder.forward(message, transport);
  if (forwarded.answer) return withId(forwarded.answer, query.id);
  log.debug('cannot forward a DNS question; answering SERVFAIL', { name: question.name, why: forwarded.why });
  return encodeAnswer(query, emptyAnswer('SERVFAIL'), limit);
}

export class DnsServer {
  private constructor(
    private readonly udp: Socket,
    private readonly tcp: Server,
    readonly host: string,
    readonly port: number,
  ) {}

  static async create(options: DnsServerOptions): Promise<DnsServer> {
    const { host, resolver, forwarder, log } = options;
    const handle = (message: Buffer, transport: 'udp' | 'tcp'): Promise<Buffer | null> =>
      answerMessage(message, transport, resolver, forwarder, log).catch((err: unknown) => {
        log.warn('answering a DNS question failed', { error: errorMessage(err) });
        return null;
      });
    const udp = createSocket({ type: host.includes(':') ? 'udp6' : 'udp4' });
    udp.on('message', (message, peer) => {
      void handle(message, 'udp').then((answer) => {
        if (answer) udp.send(answer, peer.port, peer.address);
      });
    });
    udp.on('error', (err) => log.warn('DNS UDP socket error', { error: errorMessage(err) }));
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(options.port, host, () => {
        udp.off('error', reject);
        resolve();
      });
    });
    const port = udp.address().port;
    const tcp = createServer((socket) => serveTcp(socket, handle));
    try {
      await new Promise<void>((resolve, reject) => {
        tcp.once('error', reject);
        tcp.listen(port, host, () => {
          tcp.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      udp.close();
      throw err;
    }
    tcp.on('error', (err) => log.warn('DNS TCP server error', { error: errorMessage(err) }));
    return new DnsServer(udp, tcp, host, port);
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.udp.close(() => resolve()));
    await new Promise<void>((resolve) => this.tcp.close(() => resolve()));
  }
}

/** DNS over TCP: each message prefixed by its 2-byte length; several per connection, answered in order. */
function serveTcp(socket: TcpSocket, handle: (message: Buffer, transport: 'tcp') => Promise<Buffer | null>): void {
  let buffered = Buffer.alloc(0);
  let chain = Promise.resolve();
  socket.setTimeout(TCP_IDLE_MS, () => socket.destroy());
  socket.on('error', () => socket.destroy());
  socket.on('data', (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    while (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) {
      const message = buffered.subarray(2, 2 + buffered.readUInt16BE(0));
      buffered = buffered.subarray(2 + message.length);
      chain = chain.then(async () => {
        const answer = await handle(message, 'tcp');
        if (!answer || socket.destroyed) return;
        const len = Buffer.alloc(2);
        len.writeUInt16BE(answer.length);
        socket.write(Buffer.concat([len, answer]));
      });
    }
  });
}
