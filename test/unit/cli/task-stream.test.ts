import { describe, expect, it } from 'vitest';
import { formatEvent } from '../../../src/cli/task-stream.js';
import type { TaskEvent } from '../../../src/common/contracts/api.js';

const base: TaskEvent = {
  seq: 1,
  time: '2026-11-24T22:00:01.000Z',
  stage: 'Resizing disk',
  step: 'docker-vm-1/0',
  index: 1,
  total: 1,
  state: 'in_progress',
};

describe('formatEvent', () => {
  it('shows the bytes and files of a copy in progress', () => {
    const line = formatEvent({ ...base, progress: 42, data: { phase: 'copy', bytesCopied: 3 * 1024 * 1024, filesCopied: 17 } });
    expect(line).toBe('  22:00:01 | Resizing disk: docker-vm-1/0 (1/1) in_progress 42% (copy 3.0 MiB, 17 files)');
  });

  it('prints a finished step with its elapsed time and no copy figures', () => {
    const line = formatEvent({ ...base, state: 'finished', elapsedMs: 61_000, data: { bytesCopied: 1, filesCopied: 1 } });
    expect(line).toBe('  22:00:01 | Resizing disk: docker-vm-1/0 (1/1) finished (00:01:01)');
  });
});
