/**
 * Watching an updated instance (BOSH's canary/update watch time): wait `minMs`, then poll
 * get_state until it is running, up to `maxMs`. The failure names the instance, the container
 * that is not running and the last lines it printed. Deploy, recreate, the resurrector and
 * cloud-check all watch with it, so "running" means one thing.
 */
import { BosunError, errorMessage } from '../../common/errors.js';
import type { AgentApi, AgentState, ContainerState } from '../../common/contracts/agent-protocol.js';
import type { WatchTime } from './plan.js';
import { sleep, throwIfAborted, withDeadline } from '../../common/waiting.js';

export class InstanceNotRunningError extends BosunError {
  constructor(message: string) {
    super('unavailable', 503, message);
  }
}

/**
 * The one definition of a running instance: its agent's job state is `running`. The agent sets
 * it only when dockerd runs and every container runs with none flapping, failed or unhealthy;
 * it is also what heartbeats, `bosun instances` and `bosun vms` show, so the director does not
 * second-guess it with a rule of its own.
 */
export function isRunning(state: Pick<AgentState, 'jobState'>): boolean {
  return state.jobState === 'running';
}

export async function watchInstance(options: {
  agent: AgentApi;
  instance: string;
  watch: WatchTime;
  pollIntervalMs: number;
  callTimeoutMs: number;
  signal?: AbortSignal | undefined;
}): Promise<void> {
  const start = Date.now();
  await sleep(options.watch.minMs, options.signal);
  let last: AgentState | undefined;
  let lastError: string | undefined;
  for (;;) {
    try {
      last = await withDeadline(options.callTimeoutMs, 'get_state', () => options.agent.getState(), options.signal);
      lastError = undefined;
      if (isRunning(last)) return;
    } catch (err) {
      throwIfAborted(options.signal);
      lastError = errorMessage(err);
    }
    const left = options.watch.maxMs - (Date.now() - start);
    if (left <= 0) break;
    await sleep(Math.min(options.pollIntervalMs, left), options.signal);
  }
  throw new InstanceNotRunningError(await explainNotRunning(options, last, lastError));
}

async function explainNotRunning(
  o: { agent: AgentApi; instance: string; watch: WatchTime; callTimeoutMs: number },
  state: AgentState | undefined,
  lastError: string | undefined,
): Promise<string> {
  const after = `${Math.round(o.watch.maxMs / 100) / 10} s`;
  if (state === undefined) {
    return `'${o.instance}' is not running after update: its agent did not report its state within ${after} (${lastError ?? 'no answer'}). Check the VM with "bosun vms", then deploy again.`;
  }
  const bad: ContainerState[] = state.containers.filter((c) => c.state !== 'running');
  if (bad.length === 0) {
    return `'${o.instance}' is not running after update: the agent reports job state "${state.jobState}" (dockerd ${state.dockerd.state}) after ${after}.`;
  }
  const lines: string[] = [`'${o.instance}' is not running after update (watched ${after}):`];
  for (const c of bad) {
    const why = c.lastError !== undefined ? `: ${c.lastError}` : c.lastExitCode !== undefined ? ` (last exit code ${c.lastExitCode})` : '';
    lines.push(`container "${c.name}" is ${c.state}${why}${c.flapping ? ' and keeps restarting' : ''}`);
    let log = c.lastLogLines;
    if (log === undefined || log.length === 0) {
      try {
        log = (await withDeadline(o.callTimeoutMs, 'fetch_logs', () => o.agent.fetchLogs(c.name, 20))).split('\n').filter((l) => l !== '');
      } catch {
        log = [];
      }
    }
    if (log.length > 0) lines.push(`  last lines of "${c.name}":`, ...log.slice(-20).map((l) => `    ${l}`));
  }
  lines.push('Fix the manifest (or the image) and deploy again; the other instances were left untouched.');
  return lines.join('\n');
}
