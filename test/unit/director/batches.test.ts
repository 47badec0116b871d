import { describe, expect, it } from 'vitest';
import { groupWaves, resolveMaxInFlight, updateBatches } from '../../../src/director/deploy/batches.js';
import type { PlannedGroup, UpdatePolicy } from '../../../src/director/deploy/plan.js';

const policy: UpdatePolicy = { canaries: 1, maxInFlight: 2, canaryWatchTime: { minMs: 0, maxMs: 1 }, updateWatchTime: { minMs: 0, maxMs: 1 }, serial: true };
const group = (name: string, serial?: boolean): PlannedGroup => ({
  name,
  persistentDiskMiB: 0,
  cloudProperties: {},
  stemcell: { os: 'debian-12', name: null, version: 'latest' },
  networks: {},
  instances: [],
  ...(serial === undefined ? {} : { update: { serial } }),
});

describe('deploy batches', () => {
  it('resolves max_in_flight counts and percentages (floor, at least 1)', () => {
    expect(resolveMaxInFlight(3, 10)).toBe(3);
    expect(resolveMaxInFlight('25%', 10)).toBe(2);
    expect(resolveMaxInFlight('10%', 3)).toBe(1);
    expect(resolveMaxInFlight(0, 3)).toBe(1);
  });

  it('puts canaries first, then batches of max_in_flight', () => {
    expect(updateBatches([1, 2, 3, 4, 5, 6], 2, 3)).toEqual([
      { canary: true, items: [1, 2] },
      { canary: false, items: [3, 4, 5] },
      { canary: false, items: [6] },
    ]);
    expect(updateBatches([1, 2], 0, 5)).toEqual([{ canary: false, items: [1, 2] }]);
    expect(updateBatches([], 1, 5)).toEqual([]);
  });

  it('runs consecutive serial:false groups together, serial ones alone', () => {
    const waves = groupWaves([group('a'), group('b', false), group('c', false), group('d'), group('e', false)], policy);
    expect(waves.map((w) => w.map((g) => g.name))).toEqual([['a'], ['b', 'c'], ['d'], ['e']]);
  });
});
