import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EMPTY_STATE, StateFile } from '../../../src/agent/state-file.js';

describe('agent state file', () => {
  it('is written 0600 (it holds the containers environment), also over an older world-readable file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bosun-state-'));
    const old = process.umask(0o022);
    try {
      const file = new StateFile(dir);
      await writeFile(file.path, '{}', { mode: 0o644 });
      await file.save({ ...EMPTY_STATE, disks: [] });
      expect((await stat(file.path)).mode & 0o777).toBe(0o600);
      expect(await file.load()).toEqual(EMPTY_STATE);
    } finally {
      process.umask(old);
      await rm(dir, { recursive: true, force: true });
    }
  });
});
