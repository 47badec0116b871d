/**
 * Docker's log endpoint multiplexes stdout and stderr in 8-byte-header frames unless the
 * container has a TTY; this turns either form into plain text.
 */
export function demultiplexLogs(buf: Buffer): string {
  const parts: Buffer[] = [];
  let i = 0;
  while (i + 8 <= buf.length) {
    const kind = buf[i];
    if ((kind !== 0 && kind !== 1 && kind !== 2) || buf[i + 1] !== 0 || buf[i + 2] !== 0 || buf[i + 3] !== 0) {
      return buf.toString('utf8'); // not multiplexed (TTY)
    }
    const len = buf.readUInt32BE(i + 4);
    parts.push(buf.subarray(i + 8, i + 8 + len));
    i += 8 + len;
  }
  if (i < buf.length && parts.length === 0) return buf.toString('utf8');
  return Buffer.concat(parts).toString('utf8');
}
