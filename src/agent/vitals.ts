import { readFile, statfs } from 'node:fs/promises';
import type { DiskUsage, Vitals } from '../common/contracts/agent-protocol.js';

interface CpuSample {
  user: number;
  sys: number;
  wait: number;
  total: number;
}

/** VM vitals from /proc and statfs; CPU percentages are since the previous call (since boot at first). */
export class VitalsReader {
  private previous: CpuSample = { user: 0, sys: 0, wait: 0, total: 0 };

  constructor(private readonly paths: { ephemeral: string; store: string }, private readonly storeMounted: () => boolean) {}

  async read(): Promise<Vitals> {
    const [load, cpu, mem, ephemeral, persistent] = await Promise.all([
      this.load(),
      this.cpu(),
      this.memory(),
      diskUsage(this.paths.ephemeral),
      this.storeMounted() ? diskUsage(this.paths.store) : Promise.resolve(undefined),
    ]);
    const disk: Vitals['disk'] = {};
    if (ephemeral) disk.ephemeral = ephemeral;
    if (persistent) disk.persistent = persistent;
    return { load, cpu, mem: mem.mem, swap: mem.swap, disk };
  }

  private async load(): Promise<[number, number, number]> {
    const parts = (await readFile('/proc/loadavg', 'utf8')).split(' ').map(Number);
    return [parts[0] ?? 0, parts[1] ?? 0, parts[2] ?? 0];
  }

  private async cpu(): Promise<Vitals['cpu']> {
    const line = (await readFile('/proc/stat', 'utf8')).split('\n').find((l) => l.startsWith('cpu ')) ?? '';
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = f;
    const now: CpuSample = { user: user + nice, sys: system + irq + softirq, wait: iowait, total: user + nice + system + idle + iowait + irq + softirq + steal };
    const d = now.total - this.previous.total || 1;
    const pct = (v: number): number => Math.round((v / d) * 1000) / 10;
    const result = { user: pct(now.user - this.previous.user), sys: pct(now.sys - this.previous.sys), wait: pct(now.wait - this.previous.wait) };
    this.previous = now;
    return result;
  }

  private async memory(): Promise<{ mem: Vitals['mem']; swap: Vitals['swap'] }> {
    const info = new Map<string, number>();
    for (const l of (await readFile('/proc/meminfo', 'utf8')).split('\n')) {
      const m = /^(\w+):\s+(\d+)/.exec(l);
      if (m?.[1] && m[2]) info.set(m[1], Number(m[2]));
    }
    const total = info.get('MemTotal') ?? 0;
    const used = total - (info.get('MemAvailable') ?? 0);
    const swapTotal = info.get('SwapTotal') ?? 0;
    const swapUsed = swapTotal - (info.get('SwapFree') ?? 0);
    return {
      mem: { kb: used, percent: total ? Math.round((used / total) * 1000) / 10 : 0 },
      swap: { kb: swapUsed, percent: swapTotal ? Math.round((swapUsed / swapTotal) * 1000) / 10 : 0 },
    };
  }
}

async function diskUsage(path: string): Promise<DiskUsage | undefined> {
  try {
    const s = await statfs(path);
    const total = s.blocks * s.bsize;
    const used = (s.blocks - s.bfree) * s.bsize;
    const usage: DiskUsage = { totalBytes: total, usedBytes: used, percent: total ? Math.round((used / total) * 1000) / 10 : 0 };
    if (s.files > 0) usage.inodePercent = Math.round(((s.files - s.ffree) / s.files) * 1000) / 10;
    return usage;
  } catch {
    return undefined;
  }
}
