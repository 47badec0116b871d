/**
 * The container supervision over the in-memory Docker engine: no dockerd, fast backoff. Shared by
 * the supervision unit tests.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../../src/common/logger.js';
import type { ContainerState } from '../../../src/common/contracts/agent-protocol.js';
import type { InstanceSpec } from '../../../src/common/contracts/instance-spec.js';
import { ContainerManager, type ContainerManagerOptions } from '../../../src/agent/containers/container-manager.js';
import type { BackoffPolicy } from '../../../src/agent/containers/backoff.js';
import { FakeDockerEngine } from '../../../src/agent/docker-engine/fake-engine.js';
import { ImageEnsurer } from '../../../src/agent/images/image-ensurer.js';
import { pollUntil, sleep } from '../../../src/common/waiting.js';

export const FAST_BACKOFF: BackoffPolicy = { initialDelayMs: 60, maxDelayMs: 400, resetAfterMs: 400 };

export interface Kit {
  engine: FakeDockerEngine;
  manager: ContainerManager;
  alerts: Array<{ category: string; container: string; summary: string }>;
  dockerUp: { value: boolean };
  /** Pids the manager killed as orphans of a dead dockerd. */
  killed: number[];
  /** Each start of a container while a dependency of it was not running, as "container ← dependency". */
  dependencyViolations: string[];
  state(name: string): Promise<ContainerState>;
  /** Waits (up to 5 s) until `check` holds for the named container's reported state. */
  waitFor(name: string, check: (s: ContainerState) => boolean, what: string): Promise<ContainerState>;
  close(): void;
}

export function supervise(options: { backoff?: BackoffPolicy; engine?: FakeDockerEngine; manager?: Pick<ContainerManagerOptions, 'dnsServer' | 'onChange' | 'failureRestarts'> } = {}): Kit {
  const engine = options.engine ?? new FakeDockerEngine();
  engine.images.add('busybox:latest');
  const alerts: Kit['alerts'] = [];
  const dockerUp = { value: true };
  const killed: number[] = [];
  const storeDir = mkdtempSync(join(tmpdir(), 'bosun-supervision-'));
  const manager = new ContainerManager(
    () => engine,
    new ImageEnsurer(() => engine, silentLogger),
    storeDir,
    silentLogger,
    { alert: (category, container, _title, summary) => alerts.push({ category, container, summary }) },
    () => dockerUp.value,
    { backoff: options.backoff ?? FAST_BACKOFF, killOrphan: (pid) => (killed.push(pid), true), ...options.manager },
  );
  const state = async (name: string): Promise<ContainerState> => {
    const s = (await manager.states(false)).find((c) => c.name === name);
    if (!s) throw new Error(`no container "${name}" in the states`);
    return s;
  };
  return {
    engine,
    manager,
    alerts,
    dockerUp,
    killed,
    dependencyViolations: watchDependencies(engine, () => manager.currentSpec),
    state,
    waitFor: async (name, check, what) =>
      pollUntil(
        async () => {
          const s = await state(name);
          return check(s) ? s : undefined;
        },
        { timeoutMs: 5000, intervalMs: 5, what },
      ),
    close: () => manager.close(),
  };
}

/** Applies `spec` and connects the event stream, as an agent does at start. */
export async function applied(kit: Kit, spec: InstanceSpec): Promise<void> {
  kit.manager.onDockerUp(false);
  await kit.manager.apply(spec);
  await settle();
}

/** Lets queued heal passes and events run. */
export async function settle(ms = 20): Promise<void> {
  await sleep(ms);
}

/** When the named container last started, per the fake engine's call log. */
export function lastStartAt(engine: FakeDockerEngine, name: string): number {
  const starts = engine.calls.filter((c) => c.op === 'startContainer' && c.target === name);
  return starts.at(-1)?.atMs ?? 0;
}

/** Records every start of a container while one of its dependencies is not running on the engine. */
function watchDependencies(engine: FakeDockerEngine, spec: () => InstanceSpec | null): string[] {
  const violations: string[] = [];
  const start = engine.startContainer.bind(engine);
  engine.startContainer = async (name: string): Promise<void> => {
    for (const d of spec()?.containers.find((c) => c.name === name)?.dependsOn ?? []) {
      const dep = engine.container(d);
      if (!dep?.running || (dep.health !== undefined && dep.health !== 'healthy')) violations.push(`${name} ← ${d}`);
    }
    return start(name);
  };
  return violations;
}
