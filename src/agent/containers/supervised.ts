import type { ContainerSpec } from '../../common/contracts/instance-spec.js';
import type { ContainerRunState } from '../../common/contracts/agent-protocol.js';
import type { SupervisorState } from './supervisor-state.js';

/** What the agent knows and decided about one container of the applied spec. */
export interface Supervised {
  spec: ContainerSpec;
  state: SupervisorState;
  dockerId?: string;
  /** Pid of its main process on the VM when last seen running; 0 otherwise. */
  pid: number;
  startedAtMs: number;
  restarts: number;
  consecutiveFailures: number;
  notBeforeMs: number;
  lastExitCode?: number;
  lastError?: string;
  lastLogLines?: string[];
  health: 'healthy' | 'unhealthy' | 'starting' | 'none';
  alerted: boolean;
}

export function newSupervised(spec: ContainerSpec): Supervised {
  return { spec, state: 'pending', pid: 0, startedAtMs: 0, restarts: 0, consecutiveFailures: 0, notBeforeMs: 0, health: 'none', alerted: false };
}

/** The state get_state and heartbeats report for a container. */
export function runStateOf(s: Supervised, instanceStopped: boolean): ContainerRunState {
  if (instanceStopped && s.state !== 'running' && s.state !== 'failed') return 'stopped';
  switch (s.state) {
    case 'running':
      return s.health === 'unhealthy' ? 'unhealthy' : 'running';
    case 'starting':
      return 'starting';
    case 'backoff':
      return 'restarting';
    case 'pending':
      return s.dockerId ? (s.restarts > 0 ? 'restarting' : 'starting') : 'missing';
    case 'stopping':
    case 'stopped':
      return 'stopped';
    case 'failed':
      return 'failed';
  }
}

/** Containers whose identity `spec` is bound to at creation: links, volumes_from, network_mode container:X. */
export function containersReferencedBy(spec: ContainerSpec): string[] {
  const hc = spec.create.HostConfig;
  const names = [
    ...(hc.Links ?? []).map((l) => l.split(':')[0] ?? ''),
    ...(hc.VolumesFrom ?? []).map((v) => v.split(':')[0] ?? ''),
    ...(hc.NetworkMode?.startsWith('container:') ? [hc.NetworkMode.slice('container:'.length)] : []),
  ];
  return names.map((n) => n.replace(/^\//, '')).filter(Boolean);
}
