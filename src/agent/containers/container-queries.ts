import type { ContainerState } from '../../common/contracts/agent-protocol.js';
import { ConflictError, NotFoundError } from '../../common/errors.js';
import { engineStatusOf } from '../docker-engine/docker-engine.js';
import type { ContainerRuntime } from './container-runtime.js';
import { isFlapping } from './backoff.js';
import { runStateOf } from './supervised.js';

/** Read-only views of the supervised containers: get_state, heartbeats, fetch_logs, unmount checks. */
export class ContainerQueries {
  constructor(private readonly rt: ContainerRuntime) {}

  /** The running containers that bind-mount something from the store. */
  async storeInUse(): Promise<string[]> {
    const using: string[] = [];
    for (const s of this.rt.sups.values()) {
      if (!s.spec.mounts.some((m) => m.source.kind === 'store')) continue;
      const info = await this.rt.inspect(s.spec.name);
      if (info?.running) using.push(s.spec.name);
    }
    return using;
  }

  async fetchLogs(name: string, lines: number): Promise<string> {
    if (!this.rt.isDockerUp()) throw new ConflictError(`Cannot read the logs of "${name}": the VM's Docker daemon is not running.`);
    try {
      return await this.rt.engine().containerLogs(name, lines);
    } catch (err) {
      if (engineStatusOf(err) === 404) throw new NotFoundError(`There is no container "${name}" on this VM; \`bosun instances\` lists the containers.`);
      throw err;
    }
  }

  /** Per-container state for get_state/heartbeat; `stats` adds CPU and memory (slower). */
  async states(stats: boolean): Promise<ContainerState[]> {
    const now = Date.now();
    return Promise.all(
      [...this.rt.sups.values()].map(async (s) => {
        const running = s.state === 'running' || s.state === 'starting';
        const cs: ContainerState = {
          name: s.spec.name,
          state: runStateOf(s, this.rt.stoppedOnPurpose),
          image: s.spec.image,
          uptimeSeconds: running && s.startedAtMs > 0 ? Math.round((now - s.startedAtMs) / 1000) : 0,
          restarts: s.restarts,
          flapping: isFlapping(s.consecutiveFailures) && !this.rt.stoppedOnPurpose,
          health: s.health,
        };
        if (s.dockerId) cs.dockerId = s.dockerId;
        if (s.lastExitCode !== undefined) cs.lastExitCode = s.lastExitCode;
        if (s.lastError) cs.lastError = s.lastError;
        if (s.lastLogLines) cs.lastLogLines = s.lastLogLines;
        if (stats && running && this.rt.isDockerUp()) Object.assign(cs, await this.rt.engine().containerStats(s.spec.name).catch(() => ({})));
        return cs;
      }),
    );
  }
}
