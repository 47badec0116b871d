/**
 * BOSH's meltdown rule, per deployment: when at least `minimumDownJobs` instances AND at least
 * `percentThreshold` % of its instances were unhealthy within `timeThresholdMs`, something bigger
 * than a lost VM is going on (a network partition, the cloud itself) and recreating VMs would make
 * it worse. Once tripped it stays tripped (latched) until an operator resets it
 * (`bosun update-resurrection on` or a cloud-check run): resuming is a human decision.
 */
import type { MeltdownConfig } from '../health/config.js';

export class MeltdownGuard {
  /** deployment → instance id → last time it was seen unhealthy. */
  private readonly seen = new Map<string, Map<string, number>>();
  /** deployment → when it tripped. */
  private readonly latched = new Map<string, number>();

  constructor(private readonly config: MeltdownConfig) {}

  /** Notes that these instances are unhealthy now. */
  record(deployment: string, instanceIds: readonly string[], now: number): void {
    const m = this.seen.get(deployment) ?? new Map<string, number>();
    this.seen.set(deployment, m);
    for (const id of instanceIds) m.set(id, now);
    for (const [id, t] of m) if (now - t > this.config.timeThresholdMs) m.delete(id);
  }

  unhealthyCount(deployment: string, now: number): number {
    let n = 0;
    for (const t of this.seen.get(deployment)?.values() ?? [])
      if (now - t <= this.config.timeThresholdMs) n++;
    return n;
  }

  /** Evaluates the rule; trips (latches) and returns true when it holds. */
  check(deployment: string, totalInstances: number, now: number): boolean {
    if (this.latched.has(deployment)) return true;
    const down = this.unhealthyCount(deployment, now);
    const percent = totalInstances === 0 ? 0 : (down * 100) / totalInstances;
    if (down >= this.config.minimumDownJobs && percent >= this.config.percentThreshold) {
      this.latched.set(deployment, now);
      return true;
    }
    return false;
  }

  latchedDeployments(): string[] {
    return [...this.latched.keys()];
  }

  /** deployment → when it tripped (what is persisted). */
  latchedSince(): Map<string, number> {
    return new Map(this.latched);
  }

  /** Re-latches deployments that were in meltdown before a director restart. */
  restore(latched: ReadonlyMap<string, number>): void {
    for (const [d, t] of latched) if (!this.latched.has(d)) this.latched.set(d, t);
  }

  isLatched(deployment: string): boolean {
    return this.latched.has(deployment);
  }

  /** Operator reset: forgets the latch and the history (of one deployment, or all). */
  reset(deployment?: string): void {
    if (deployment === undefined) {
      this.latched.clear();
      this.seen.clear();
    } else {
      this.latched.delete(deployment);
      this.seen.delete(deployment);
    }
  }
}
