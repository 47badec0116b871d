/**
 * `<ephemeral>/on-failure-restarts.json`: how many restarts each `on-failure:N` container has used,
 * so that an agent restart (a crash, an upgrade) does not hand a crash-looping container N fresh
 * restarts. Written atomically (temp file + rename) whenever a count changes; a missing or broken
 * file counts as zero restarts.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export type FailureRestartCounts = Record<string, number>;

export class FailureRestartsFile {
  constructor(readonly path: string) {}

  load(): FailureRestartCounts {
    try {
      const raw = JSON.parse(readFileSync(this.path, 'utf8')) as unknown;
      if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return {};
      return Object.fromEntries(Object.entries(raw).filter((e): e is [string, number] => Number.isInteger(e[1]) && (e[1] as number) >= 0));
    } catch {
      return {};
    }
  }

  save(counts: FailureRestartCounts): void {
    mkdirSync(dirname(this.path), { recursive: true });
    const tmp = `${this.path}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(counts));
    renameSync(tmp, this.path);
  }
}
