/** A DNS client for tests and benchmarks: one question over UDP or TCP, the answer decoded. */
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { decodeAnswer, encodeQuery } from '../../src/agent/dns/dns-wire.js';

export type DecodedDnsAnswer = ReturnType<typeof decodeAnswer> & { bytes: number };

export async function askDns(
  host: string,
  port: number,
  name: string,
  type = 'A',
  options: { transport?: 'udp' | 'tcp'; ednsUdpSize?: number; timeoutMs?: number } = {},
): Promise<DecodedDnsAnswer> {
  const id = Math.floor(Math.random() * 65535);
  const query = encodeQuery(id, name, type, options.ednsUdpSize === undefined ? {} : { ednsUdpSize: options.ednsUdpSize });
  const raw = await (options.transport === 'tcp' ? overTcp : overUdp)(host, port, query, options.timeoutMs ?? 3000);
  return { ...decodeAnswer(raw), bytes: raw.length };
}

function overUdp(host: string, port: number, query: Buffer, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    const timer = setTimeout(() => {
      s.close();
      reject(new Error(`no DNS answer from ${host}:${port} over UDP within ${timeoutMs} ms`));
    }, timeoutMs);
    s.on('message', (m) => {
      clearTimeout(timer);
      s.close();
      resolve(m);
    });
    s.on('error', (err) => {
      clearTimeout(timer);
      s.close();
      reject(err);
    });
    s.send(query, port, host);
  });
}

function overTcp(host: string, port: number, query: Buffer, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port });
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`no DNS answer from ${host}:${port} over TCP within ${timeoutMs} ms`));
    }, timeoutMs);
    s.on('connect', () => {
      const len = Buffer.alloc(2);
      len.writeUInt16BE(query.length);
      s.write(Buffer.concat([len, query]));
    });
    s.on('data', (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        clearTimeout(timer);
        s.destroy();
        resolve(buf.subarray(2, 2 + buf.readUInt16BE(0)));
      }
    });
    s.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}
