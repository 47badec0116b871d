/**
 * Forwards questions about names bosun does not answer to the VM's upstream resolvers (the
 * nameservers of its resolv.conf, minus its own address), as they came: over UDP for UDP clients,
 * over TCP for TCP clients. Without upstreams, or when none answers, the caller answers SERVFAIL.
 */
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { readFile } from 'node:fs/promises';
import { abortReason, withDeadline } from '../../common/waiting.js';
import { errorMessage } from '../../common/errors.js';

export interface DnsUpstream {
  host: string;
  port: number;
}

/** How long one upstream may take before the next is asked (a client's own timeout is ~5 s). */
export const UPSTREAM_TIMEOUT_MS = 2000;

/** The nameservers of a resolv.conf text, minus the addresses the agent itself answers on. */
export function upstreamsFromResolvConf(text: string, ownAddresses: string[]): DnsUpstream[] {
  const own = new Set(ownAddresses);
  const hosts = text
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((w) => w[0] === 'nameserver' && w[1] !== undefined)
    .map((w) => w[1] as string)
    .filter((h) => !own.has(h) && h !== '0.0.0.0');
  return [...new Set(hosts)].map((host) => ({ host, port: 53 }));
}

/** Reads the VM's resolv.conf; a missing file means no upstreams. */
export async function readUpstreams(resolvConfPath: string, ownAddresses: string[]): Promise<DnsUpstream[]> {
  try {
    return upstreamsFromResolvConf(await readFile(resolvConfPath, 'utf8'), ownAddresses);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

export class DnsForwarder {
  constructor(
    public upstreams: DnsUpstream[],
    private readonly timeoutMs = UPSTREAM_TIMEOUT_MS,
  ) {}

  /**
   * The first upstream's answer to the raw query (its id left as the client sent it), or null when
   * there is no upstream or none answered: the caller then answers SERVFAIL at once.
   */
  async forward(query: Buffer, transport: 'udp' | 'tcp'): Promise<{ answer: Buffer } | { answer: null; why: string }> {
    if (this.upstreams.length === 0) return { answer: null, why: 'the VM has no upstream resolver' };
    const failures: string[] = [];
    for (const u of this.upstreams) {
      try {
        const answer = await withDeadline(this.timeoutMs, `DNS upstream ${u.host}:${u.port}`, (signal) =>
          transport === 'udp' ? askUdp(u, query, signal) : askTcp(u, query, signal),
        );
        return { answer };
      } catch (err) {
        failures.push(`${u.host}:${u.port}: ${errorMessage(err)}`);
      }
    }
    return { answer: null, why: failures.join('; ') };
  }
}

/**
 * Settles a socket question once: with the answer, the first error, or the signal's abort; then
 * closes the socket (`close`) and forgets the signal.
 */
function settleOnce(
  signal: AbortSignal,
  close: () => void,
  resolve: (answer: Buffer) => void,
  reject: (err: Error) => void,
): (err: Error | null, answer?: Buffer) => void {
  let finished = false;
  const done = (err: Error | null, answer?: Buffer): void => {
    if (finished) return;
    finished = true;
    signal.removeEventListener('abort', onAbort);
    close();
    if (err) reject(err);
    else resolve(answer as Buffer);
  };
  const onAbort = (): void => done(abortReason(signal));
  signal.addEventListener('abort', onAbort, { once: true });
  return done;
}

/** One question over a connected UDP socket: an upstream that is not there fails at once (ECONNREFUSED). */
function askUdp(u: DnsUpstream, query: Buffer, signal: AbortSignal): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = createSocket(u.host.includes(':') ? 'udp6' : 'udp4');
    const id = query.readUInt16BE(0);
    const done = settleOnce(signal, () => socket.close(), resolve, reject);
    socket.on('error', (err) => done(err));
    socket.on('message', (msg) => {
      if (msg.length >= 2 && msg.readUInt16BE(0) === id) done(null, msg);
    });
    socket.connect(u.port, u.host, () => socket.send(query));
  });
}

function askTcp(u: DnsUpstream, query: Buffer, signal: AbortSignal): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: u.host, port: u.port });
    let received = Buffer.alloc(0);
    const done = settleOnce(signal, () => socket.destroy(), resolve, reject);
    socket.on('error', (err) => done(err));
    socket.on('connect', () => {
      const len = Buffer.alloc(2);
      len.writeUInt16BE(query.length);
      socket.write(Buffer.concat([len, query]));
    });
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (received.length >= 2 && received.length >= 2 + received.readUInt16BE(0)) done(null, received.subarray(2, 2 + received.readUInt16BE(0)));
    });
    socket.on('end', () => done(new Error('the upstream closed the connection without an answer')));
  });
}
