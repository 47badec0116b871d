import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FileLock } from '../../../src/cloud/local/file-lock.js';

let dir = '';
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('FileLock (the local cloud shared by several bosun-local-cpi processes)', () => {
  it('serialises read-modify-write sections of separate lock holders (as separate processes are)', async () => {
    dir = mkdtempSync(join(tmpdir(), 'bosun-lock-'));
    const counter = join(dir, 'counter');
    await fs.writeFile(counter, '0');
    // Each FileLock has its own in-process mutex: only the lock file keeps them apart.
    const holders = [new FileLock(join(dir, 'cloud.lock')), new FileLock(join(dir, 'cloud.lock')), new FileLock(join(dir, 'cloud.lock'))];
    const bump = (lock: FileLock) =>
      lock.run(async () => {
        const n = Number(await fs.readFile(counter, 'utf8'));
        await new Promise((r) => setTimeout(r, 1));
        await fs.writeFile(counter, String(n + 1));
      });
    await Promise.all(holders.flatMap((h) => Array.from({ length: 10 }, () => bump(h))));
    expect(await fs.readFile(counter, 'utf8')).toBe('30');
  });

  it('takes over the lock of a dead owner, and waits for a live one', async () => {
    dir = mkdtempSync(join(tmpdir(), 'bosun-lock-'));
    const file = join(dir, 'cloud.lock');
    writeFileSync(file, '999999999 1\n'); // no such process
    expect(await new FileLock(file).run(async () => 'ran')).toBe('ran');
    writeFileSync(file, `${process.pid}\n`); // alive: this very process
    const err = await new FileLock(file, 100).run(async () => 'ran').catch((e: unknown) => e);
    expect(String(err)).toMatch(/is held by process \d+ for more than 0.1 s/);
  });
});
