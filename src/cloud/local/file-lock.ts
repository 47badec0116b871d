/**
 * A lock shared by every process that opens the same local-cloud data dir (bosun-local-cpi runs
 * one process per CPI call, several at once): a lock file created exclusively, holding the
 * owner's pid and start time, and taken over when its owner is dead. The in-process Mutex goes
 * first, so that calls of one process queue without polling.
 */
import { promises as fs } from 'node:fs';
import { Mutex } from '../../common/mutex.js';
import { sleep } from '../../common/waiting.js';
import { CloudError } from '../cloud.js';
import { isAlive, processStartTime } from './processes.js';

export interface CriticalSection {
  run<T>(fn: () => Promise<T>): Promise<T>;
}

const POLL_MS = 10;

export class FileLock implements CriticalSection {
  private readonly mutex = new Mutex();

  constructor(
    readonly file: string,
    private readonly timeoutMs = 120_000,
  ) {}

  run<T>(fn: () => Promise<T>): Promise<T> {
    return this.mutex.run(async () => {
      await this.acquire();
      try {
        return await fn();
      } finally {
        await fs.rm(this.file, { force: true });
      }
    });
  }

  private async acquire(): Promise<void> {
    const me = `${process.pid} ${(await processStartTime(process.pid)) ?? ''}\n`;
    const deadline = Date.now() + this.timeoutMs;
    for (;;) {
      try {
        await fs.writeFile(this.file, me, { flag: 'wx', mode: 0o600 });
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      await this.removeIfStale();
      if (Date.now() > deadline) {
        const owner = (await fs.readFile(this.file, 'utf8').catch(() => '')).trim();
        throw new CloudError(`the local cloud's lock ${this.file} is held by process ${owner || '(unknown)'} for more than ${this.timeoutMs / 1000} s; if that process hangs, stop it`, { okToRetry: true });
      }
      await sleep(POLL_MS);
    }
  }

  /** Removes the lock file of a dead owner (the same content read twice, so that a fresh owner's file stays). */
  private async removeIfStale(): Promise<void> {
    const content = await fs.readFile(this.file, 'utf8').catch(() => null);
    if (content === null) return;
    const [pid, startTime] = content.trim().split(' ');
    const owner = Number(pid);
    if (Number.isInteger(owner) && owner > 0 && (await isAlive(owner, startTime === '' ? undefined : startTime))) return;
    if (content.trim() === '' ) {
      // a writer between create and write: only stale when it stays empty
      const { mtimeMs } = await fs.stat(this.file).catch(() => ({ mtimeMs: Date.now() }));
      if (Date.now() - mtimeMs < 5_000) return;
    }
    const again = await fs.readFile(this.file, 'utf8').catch(() => null);
    if (again === content) await fs.rm(this.file, { force: true });
  }
}
