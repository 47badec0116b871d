import { spawn } from 'node:child_process';
import { openSync, closeSync, promises as fsp } from 'node:fs';
import path from 'node:path';
import { CloudError } from '../cloud.js';
import { shellQuote, tryRun } from './exec.js';
import { netnsName } from './network.js';
import {
  childrenOf,
  isAlive,
  pidNamespaceOf,
  processStartTime,
  processesInPidNamespace,
  waitFor,
} from './processes.js';

export interface VmPaths {
  root: string;
  run: string;
  resolvConf: string;
  etcDocker: string;
  settings: string;
  consoleLog: string;
}

export function vmPaths(root: string): VmPaths {
  return {
    root,
    run: path.join(root, 'run'),
    resolvConf: path.join(root, 'resolv.conf'),
    etcDocker: path.join(root, 'etc-docker'),
    settings: path.join(root, 'settings.json'),
    consoleLog: path.join(root, 'ephemeral', 'vm-console.log'),
  };
}

export interface LaunchedVm {
  pid1: number;
  pid1StartTime: string;
}

/**
 * Starts the VM's process tree: its own PID and mount namespaces inside its network namespace,
 * docker-init (tini) as PID 1 reaping orphans, and a restart loop around the agent (the VM's
 * "runit") so an agent crash restarts the agent, not the VM. `nsenter --net` rather than
 * `ip netns exec`, which remounts /sys and hides the cgroup mounts dockerd needs.
 */
export async function launchVm(
  vmCid: string,
  paths: VmPaths,
  agentCommand: string[],
  restartDelaySeconds: number,
): Promise<LaunchedVm> {
  const agent = [...agentCommand, '--settings', paths.settings].map(shellQuote).join(' ');
  const loop =
    `while :; do ${agent}; ` +
    `echo "bosun-vm: agent exited with status $?; restarting it in ${restartDelaySeconds} s" >&2; ` +
    `sleep ${restartDelaySeconds}; done`;
  // Mounts private to the VM: its run dir as tmpfs (a stale dockerd exec-root makes dockerd hang),
  // its own resolv.conf (the host's resolver makes every pull wait on a DNS timeout) and its own
  // /etc/docker (per-VM registry CA under certs.d).
  const init = [
    'set -e',
    `mount -t tmpfs -o mode=0755 bosun-run ${shellQuote(paths.run)}`,
    `mount --bind ${shellQuote(paths.resolvConf)} /etc/resolv.conf`,
    `mount --bind ${shellQuote(paths.etcDocker)} /etc/docker`,
    'exec docker-init -- sh -c "$1"',
  ].join('\n');
  return startProcessTree(vmCid, paths.consoleLog, init, loop);
}

/**
 * Spawns `sh -c init NAME arg` as PID 1 of new PID and mount namespaces inside the VM's network
 * namespace and waits until that PID 1 runs; shared by the host-binaries and the stemcell boot.
 */
export async function startProcessTree(vmCid: string, consoleLog: string, init: string, arg: string): Promise<LaunchedVm> {
  const log = openSync(consoleLog, 'a');
  let unsharePid: number | undefined;
  try {
    // Not `detached`: setsid(1) would then fork and the PID we get would be gone at once. Here
    // setsid calls setsid() itself and execs nsenter, which execs unshare: child.pid is unshare's.
    const child = spawn(
      'setsid',
      [
        'nsenter',
        `--net=/run/netns/${netnsName(vmCid)}`,
        'unshare',
        '--pid',
        '--fork',
        '--mount',
        '--mount-proc',
        '--propagation',
        'private',
        'sh',
        '-c',
        init,
        `bosun-vm-${vmCid}`,
        arg,
      ],
      { stdio: ['ignore', log, log] },
    );
    child.unref();
    child.on('error', () => undefined);
    unsharePid = child.pid;
  } finally {
    closeSync(log);
  }
  if (unsharePid === undefined) {
    throw new CloudError(
      `could not start the process tree of VM ${vmCid} (spawning setsid failed); is util-linux installed?`,
      {
        okToRetry: true,
      },
    );
  }
  // `unshare --fork` forks the VM's PID 1; wait until it exists and is no longer unshare's fork
  // (i.e. runs in the new PID namespace).
  const parentNs = await pidNamespaceOf(process.pid);
  let pid1: number | undefined;
  const found = await waitFor(async () => {
    const kids = await childrenOf(unsharePid);
    const kid = kids[0];
    if (kid === undefined) return !(await isAlive(unsharePid));
    const ns = await pidNamespaceOf(kid);
    if (ns === null || ns === parentNs) return false;
    pid1 = kid;
    return true;
  }, 10_000);
  const startTime = pid1 === undefined ? null : await processStartTime(pid1);
  if (!found || pid1 === undefined || startTime === null) {
    throw new CloudError(
      `the process tree of VM ${vmCid} did not start; see its console log ${consoleLog} for the reason`,
      { okToRetry: true },
    );
  }
  return { pid1, pid1StartTime: startTime };
}

/**
 * Kills every process of the VM: SIGKILL to its PID 1 makes the kernel kill everything in its PID
 * namespace (agent, dockerd, containerd, shims, containers). Waits until they are all gone.
 */
export async function killVm(vmCid: string, pid1: number | null, startTime: string | null): Promise<void> {
  if (pid1 === null || !(await isAlive(pid1, startTime))) return;
  const ns = await pidNamespaceOf(pid1);
  const parent = await parentOf(pid1);
  try {
    process.kill(pid1, 'SIGKILL');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
  const gone = await waitFor(async () => {
    if (await isAlive(pid1, startTime)) return false;
    return ns === null || (await processesInPidNamespace(ns)).length === 0;
  }, 15_000);
  if (!gone) {
    throw new CloudError(
      `processes of VM ${vmCid} are still running 15 s after its PID 1 (${pid1}) was killed; ` +
        `look for stuck processes (state D) with \`ps -eo pid,stat,cmd\` and retry`,
      { okToRetry: true },
    );
  }
  // unshare, which waited for PID 1, exits by itself; make sure it does not linger.
  if (parent !== null) {
    try {
      const cmd = await fsp.readFile(`/proc/${parent}/comm`, 'utf8');
      if (cmd.trim() === 'unshare') process.kill(parent, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

async function parentOf(pid: number): Promise<number | null> {
  try {
    const text = await fsp.readFile(`/proc/${pid}/stat`, 'utf8');
    return Number(text.slice(text.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return null;
  }
}

/**
 * Kills whatever still runs in the VM's network namespace: the processes of a VM whose PID 1 was
 * never recorded (the cloud died in the middle of createVm). Killing the VM's PID 1 ends them all.
 */
export async function killNetnsProcesses(vmCid: string): Promise<void> {
  const res = await tryRun('ip', ['netns', 'pids', netnsName(vmCid)]);
  if (!('stdout' in res)) return;
  const pids = res.stdout.split(/\s+/).filter(Boolean).map(Number);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  await waitFor(async () => {
    for (const pid of pids) if (await isAlive(pid)) return false;
    return true;
  }, 5000);
}
