/** A minimal Redis (RESP2) client: one command per connection, enough for tests and benchmarks. */
import net from 'node:net';

export function redisCommand(
  host: string,
  port: number,
  args: string[],
  timeoutMs = 2000,
): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host, port });
    let buf = '';
    const done = (err: Error | null, value?: string | null): void => {
      sock.destroy();
      if (err) reject(err);
      else resolve(value ?? null);
    };
    sock.setTimeout(timeoutMs, () =>
      done(new Error(`redis at ${host}:${port} did not answer within ${timeoutMs} ms`)),
    );
    sock.on('error', (e) => done(e));
    sock.on('connect', () =>
      sock.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`),
    );
    sock.on('data', (c: Buffer) => {
      buf += c.toString('utf8');
      const nl = buf.indexOf('\r\n');
      if (nl < 0) return;
      const head = buf.slice(0, nl);
      const kind = head[0];
      if (kind === '+' || kind === ':') return done(null, head.slice(1));
      if (kind === '-') return done(new Error(`redis error: ${head.slice(1)}`));
      if (kind === '$') {
        const len = Number(head.slice(1));
        if (len < 0) return done(null, null);
        if (Buffer.byteLength(buf) >= nl + 2 + len + 2) return done(null, buf.slice(nl + 2, nl + 2 + len));
        return;
      }
      done(new Error(`unexpected redis reply ${JSON.stringify(head)}`));
    });
  });
}
