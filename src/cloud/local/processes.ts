import { promises as fs } from 'node:fs';
import { sleep } from '../../common/waiting.js';

/** Field 22 of /proc/<pid>/stat (start time in clock ticks): tells a live PID from a reused one. */
export async function processStartTime(pid: number): Promise<string | null> {
  const stat = await readStat(pid);
  return stat?.startTime ?? null;
}

interface Stat {
  state: string;
  ppid: number;
  startTime: string;
}

async function readStat(pid: number): Promise<Stat | null> {
  let text: string;
  try {
    text = await fs.readFile(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // The command name (field 2) may contain spaces and parentheses: split after its last ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: rest[0] ?? '?', ppid: Number(rest[1]), startTime: rest[19] ?? '' };
}

/** True when the process exists, is not a zombie and (when given) started at `startTime`. */
export async function isAlive(pid: number, startTime?: string | null): Promise<boolean> {
  const stat = await readStat(pid);
  if (!stat || stat.state === 'Z' || stat.state === 'X') return false;
  return startTime === undefined || startTime === null || stat.startTime === startTime;
}

/** The children of a process (needs CONFIG_PROC_CHILDREN; falls back to scanning /proc). */
export async function childrenOf(pid: number): Promise<number[]> {
  try {
    const text = await fs.readFile(`/proc/${pid}/task/${pid}/children`, 'utf8');
    return text.trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    const found: number[] = [];
    for (const name of await fs.readdir('/proc')) {
      if (!/^\d+$/.test(name)) continue;
      const stat = await readStat(Number(name));
      if (stat?.ppid === pid) found.push(Number(name));
    }
    return found;
  }
}

/** The inode link of a process's PID namespace ("pid:[4026532…]"), or null when it is gone. */
export async function pidNamespaceOf(pid: number): Promise<string | null> {
  try {
    return await fs.readlink(`/proc/${pid}/ns/pid`);
  } catch {
    return null;
  }
}

/** Every live process whose PID namespace is `ns`. */
export async function processesInPidNamespace(ns: string): Promise<number[]> {
  const found: number[] = [];
  for (const name of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const link = await pidNamespaceOf(Number(name));
    if (link === ns && (await isAlive(Number(name)))) found.push(Number(name));
  }
  return found;
}

export async function waitFor(
  check: () => Promise<boolean>,
  timeoutMs: number,
  intervalMs = 25,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(intervalMs);
  }
}
