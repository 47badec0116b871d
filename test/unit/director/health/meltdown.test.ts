import { describe, expect, it } from 'vitest';
import { MeltdownGuard } from '../../../../src/director/resurrector/meltdown.js';

const config = { minimumDownJobs: 5, percentThreshold: 20, timeThresholdMs: 600_000 };

describe('meltdown guard (BOSH rule: ≥ minimum_down_jobs AND ≥ percent_threshold within time_threshold)', () => {
  it('needs both the count and the percentage', () => {
    const g = new MeltdownGuard(config);
    g.record('big', ['a', 'b', 'c', 'd', 'e'], 0);
    expect(g.check('big', 100, 0)).toBe(false); // 5 but only 5 %
    g.record('small', ['a', 'b', 'c', 'd'], 0);
    expect(g.check('small', 4, 0)).toBe(false); // 100 % but only 4
    g.record('mid', ['a', 'b', 'c', 'd', 'e'], 0);
    expect(g.check('mid', 25, 0)).toBe(true); // 5 and 20 %
  });

  it('counts instances unhealthy at different times within the window, not outside it', () => {
    const g = new MeltdownGuard(config);
    g.record('d', ['a', 'b', 'c'], 0);
    g.record('d', ['d', 'e'], 599_000);
    expect(g.unhealthyCount('d', 599_000)).toBe(5);
    const h = new MeltdownGuard(config);
    h.record('d', ['a', 'b', 'c'], 0);
    h.record('d', ['d', 'e'], 700_000);
    expect(h.check('d', 10, 700_000)).toBe(false);
    expect(h.unhealthyCount('d', 700_000)).toBe(2);
  });

  it('stays tripped until an operator resets it', () => {
    const g = new MeltdownGuard(config);
    g.record('d', ['a', 'b', 'c', 'd', 'e'], 0);
    expect(g.check('d', 10, 0)).toBe(true);
    expect(g.check('d', 10, 10_000_000)).toBe(true);
    expect(g.latchedDeployments()).toEqual(['d']);
    g.reset('d');
    expect(g.isLatched('d')).toBe(false);
    expect(g.check('d', 10, 10_000_000)).toBe(false);
  });
});
