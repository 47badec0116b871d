/** How a deploy is cut into group waves, canaries and max_in_flight batches (BOSH's rules). */
import type { PlannedGroup, UpdatePolicy } from './plan.js';

/** max_in_flight as a count: "N%" is floor(N * size / 100), and always at least 1. */
export function resolveMaxInFlight(value: number | string, groupSize: number): number {
  if (typeof value === 'number') return Math.max(1, Math.floor(value));
  const m = /^\s*(\d+(?:\.\d+)?)\s*%\s*$/.exec(value);
  if (m?.[1] !== undefined) return Math.max(1, Math.floor((Number(m[1]) * groupSize) / 100));
  const n = Number(value);
  return Number.isFinite(n) ? Math.max(1, Math.floor(n)) : 1;
}

export function policyFor(group: PlannedGroup, deployment: UpdatePolicy): UpdatePolicy {
  return { ...deployment, ...(group.update ?? {}) };
}

/**
 * Groups run one after another, except that consecutive groups with serial:false form one wave
 * and are updated in parallel.
 */
export function groupWaves(groups: PlannedGroup[], policy: UpdatePolicy): PlannedGroup[][] {
  const waves: PlannedGroup[][] = [];
  let parallel: PlannedGroup[] | null = null;
  for (const g of groups) {
    if (policyFor(g, policy).serial) {
      parallel = null;
      waves.push([g]);
    } else if (parallel === null) {
      parallel = [g];
      waves.push(parallel);
    } else {
      parallel.push(g);
    }
  }
  return waves;
}

/** The canary batch (if any), then batches of at most maxInFlight. */
export function updateBatches<T>(items: T[], canaries: number, maxInFlight: number): Array<{ canary: boolean; items: T[] }> {
  const batches: Array<{ canary: boolean; items: T[] }> = [];
  const canaryCount = Math.min(Math.max(0, canaries), items.length);
  if (canaryCount > 0) batches.push({ canary: true, items: items.slice(0, canaryCount) });
  for (let i = canaryCount; i < items.length; i += maxInFlight) batches.push({ canary: false, items: items.slice(i, i + maxInFlight) });
  return batches;
}
