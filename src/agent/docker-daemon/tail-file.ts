import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

/** The last `lines` lines of a (log) file, reading at most its last 64 KiB; [] when unreadable. */
export function tailFile(path: string, lines: number): string[] {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return [];
  }
  try {
    const size = fstatSync(fd).size;
    const len = Math.min(size, 64 * 1024);
    const buf = Buffer.alloc(len);
    readSync(fd, buf, 0, len, size - len);
    return buf.toString('utf8').split('\n').filter((l) => l.trim() !== '').slice(-lines);
  } finally {
    closeSync(fd);
  }
}
