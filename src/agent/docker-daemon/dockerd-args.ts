import type { DockerDaemonSpec } from '../../common/contracts/instance-spec.js';
import type { AgentSettings } from '../../common/contracts/agent-settings.js';
import { join } from 'node:path';

/** Where this VM's dockerd keeps its things (all derived from the settings' paths). */
export interface DockerdPaths {
  dataRoot: string;
  execRoot: string;
  socket: string;
  pidFile: string;
  logFile: string;
  /** Records the arguments of the dockerd we started, so that an adopting agent can compare. */
  argsFile: string;
}

export function dockerdPaths(settings: AgentSettings): DockerdPaths {
  const { ephemeral, run } = settings.paths;
  return {
    dataRoot: join(ephemeral, 'docker'),
    execRoot: join(run, 'docker'),
    socket: join(run, 'docker.sock'),
    pidFile: join(run, 'docker.pid'),
    logFile: join(ephemeral, 'dockerd.log'),
    argsFile: join(run, 'dockerd-args.json'),
  };
}

export const DEFAULT_DOCKER_SPEC: DockerDaemonSpec = {
  insecureRegistries: [],
  registryMirrors: [],
  logOptions: {},
  dns: [],
  labels: [],
  debug: false,
  liveRestore: false,
  extraArgs: [],
};

/** The dockerd command line for a VM and an instance group's `docker:` options. */
export function dockerdArgs(settings: AgentSettings, paths: DockerdPaths, spec: DockerDaemonSpec): string[] {
  const args = [
    '--data-root', paths.dataRoot,
    '--exec-root', paths.execRoot,
    '-H', `unix://${paths.socket}`,
    '--pidfile', paths.pidFile,
    '--cgroup-parent', settings.cgroupParent,
  ];
  if (settings.registryHost) args.push('--registry-mirror', `https://${settings.registryHost}`);
  for (const m of spec.registryMirrors) args.push('--registry-mirror', m);
  for (const r of spec.insecureRegistries) args.push('--insecure-registry', r);
  if (spec.storageDriver) args.push('--storage-driver', spec.storageDriver);
  if (spec.logDriver) args.push('--log-driver', spec.logDriver);
  for (const [k, v] of Object.entries(spec.logOptions)) args.push('--log-opt', `${k}=${v}`);
  for (const d of spec.dns) args.push('--dns', d);
  if (spec.mtu !== undefined) args.push('--mtu', String(spec.mtu));
  for (const l of spec.labels) args.push('--label', l);
  if (spec.debug) args.push('--debug');
  if (spec.liveRestore) args.push('--live-restore');
  args.push(...spec.extraArgs);
  return args;
}
