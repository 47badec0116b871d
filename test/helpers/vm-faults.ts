/**
 * Faults injected into one local-cloud VM from the host, for resurrection tests and benchmarks, and
 * a sampler that watches which VMs hold a persistent disk:
 *  - killVm: the VM dies as with a host failure (PID 1 killed, network namespace gone);
 *  - freezeAgent: the agent hangs (SIGSTOP) while its VM, dockerd and containers run on;
 *  - killAgentForGood: the agent dies and its restart loop cannot bring it back (dockerd, redis stay);
 *  - partitionVm: the VM drops its traffic to/from the director, with rules inside the VM's own
 *    network namespace only (the host's rules are never touched; they go with the namespace);
 *  - watchDiskHolders: samples `losetup -j` and each VM PID 1's mountinfo every ~50 ms.
 */
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { promisify } from 'node:util';
import type { LocalCloud } from '../../src/cloud/local/local-cloud.js';
import { loopDevicesOf } from '../../src/cloud/local/loop-devices.js';
import { netnsName } from '../../src/cloud/local/network.js';
import { childrenOf, isAlive, waitFor } from '../../src/cloud/local/processes.js';

const exec = promisify(execFile);

async function cmdline(pid: number): Promise<string> {
  return (await fs.readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).replace(/\0/g, ' ');
}

/**
 * Kills the VM from outside: SIGKILL of its PID 1, then its network namespace deleted.
 * Returns the time (Date.now()) just before the kill, to measure recovery from.
 */
export async function killVm(cloud: LocalCloud, vmCid: string): Promise<number> {
  const pid1 = await cloud.vmPid(vmCid);
  if (pid1 === null) throw new Error(`VM ${vmCid} has no PID 1`);
  const killedAt = Date.now();
  process.kill(pid1, 'SIGKILL');
  await exec('ip', ['netns', 'del', netnsName(vmCid)]).catch(() => undefined);
  return killedAt;
}

/**
 * Freezes the VM's agent and its restart loop (SIGSTOP), so that only its missing heartbeats
 * tell. Returns the time (Date.now()) just before the signal.
 */
export async function freezeAgent(cloud: LocalCloud, vmCid: string): Promise<number> {
  const { loopPid, agentPid } = await agentProcesses(cloud, vmCid);
  const stoppedAt = Date.now();
  process.kill(loopPid, 'SIGSTOP');
  process.kill(agentPid, 'SIGSTOP');
  return stoppedAt;
}

/** The restart loop under docker-init: the stemcell's runsvdir-start (or the host-binaries boot's `while :` shell). */
const RESTART_LOOP = /\/usr\/sbin\/runsvdir-start|while :/;
/** The agent it runs: the stemcell's (…/agent/main.js --agent-config …) or the host-binaries boot's (--settings …/settings.json). */
const AGENT = /\/agent\/main\.js|settings\.json/;

/** The VM's agent restart loop (sh under docker-init) and the agent it runs now (host PIDs). */
export async function agentProcesses(
  cloud: LocalCloud,
  vmCid: string,
): Promise<{ pid1: number; loopPid: number; agentPid: number }> {
  const pid1 = await cloud.vmPid(vmCid);
  if (pid1 === null) throw new Error(`VM ${vmCid} has no PID 1`);
  for (const child of await childrenOf(pid1)) {
    if (!RESTART_LOOP.test(await cmdline(child))) continue;
    for (const grandchild of await childrenOf(child)) {
      if (AGENT.test(await cmdline(grandchild)) && (await isAlive(grandchild)))
        return { pid1, loopPid: child, agentPid: grandchild };
    }
  }
  throw new Error(`no running agent found under the restart loop of VM ${vmCid} (PID 1 ${pid1})`);
}

/**
 * Kills the agent so that it stays dead: the restart loop is stopped first (SIGSTOP — it can then
 * neither reap nor restart), then the agent gets SIGKILL. dockerd was started detached by the
 * agent and keeps running (re-parented to the VM's PID 1). Deleting the VM kills the stopped loop too.
 */
export async function killAgentForGood(
  cloud: LocalCloud,
  vmCid: string,
): Promise<{ loopPid: number; agentPid: number }> {
  const { loopPid, agentPid } = await agentProcesses(cloud, vmCid);
  process.kill(loopPid, 'SIGSTOP');
  process.kill(agentPid, 'SIGKILL');
  if (!(await waitFor(async () => !(await isAlive(agentPid)), 5_000)))
    throw new Error(`the agent (pid ${agentPid}) of VM ${vmCid} did not die after SIGKILL`);
  return { loopPid, agentPid };
}

/** Drops all traffic between the VM and `peerIp` (the director) inside the VM's network namespace. */
export async function partitionVm(vmCid: string, peerIp: string): Promise<void> {
  const ns = `--net=/run/netns/${netnsName(vmCid)}`;
  await exec('nsenter', [ns, 'iptables', '-w', '-A', 'OUTPUT', '-d', peerIp, '-j', 'DROP']);
  await exec('nsenter', [ns, 'iptables', '-w', '-A', 'INPUT', '-s', peerIp, '-j', 'DROP']);
}

export interface DiskSample {
  at: number;
  /** Loop devices backed by the disk file. */
  loops: string[];
  /** VMs whose mount namespace (their PID 1's) has one of those devices mounted. */
  mountedOn: string[];
  /** VMs with a live PID 1 at sample time. */
  liveVms: string[];
  /** Set when this sample could not be taken. */
  error?: string;
}

export interface DiskWatch {
  samples: DiskSample[];
  /** Stops sampling and returns all samples. */
  stop(): Promise<DiskSample[]>;
}

/** The mount sources of a process's mount namespace (field after " - " and the fs type). */
async function mountSources(pid: number): Promise<string[]> {
  const text = await fs.readFile(`/proc/${pid}/mountinfo`, 'utf8').catch(() => '');
  return text
    .split('\n')
    .map((line) => line.split(' - ')[1]?.split(' ')[1] ?? '')
    .filter(Boolean);
}

export async function sampleDiskHolders(
  cloud: LocalCloud,
  diskCid: string,
  knownLoops: Set<string>,
): Promise<DiskSample> {
  const at = Date.now();
  const loops = await loopDevicesOf(cloud.diskFile(diskCid));
  for (const l of loops) knownLoops.add(l);
  const mountedOn: string[] = [];
  const liveVms: string[] = [];
  for (const cid of await cloud.listVmCids()) {
    const pid1 = await cloud.vmPid(cid);
    if (pid1 === null) continue;
    liveVms.push(cid);
    // A loop device seen earlier still counts: a detached-but-mounted device would be the bug.
    if ((await mountSources(pid1)).some((src) => knownLoops.has(src))) mountedOn.push(cid);
  }
  return { at, loops, mountedOn, liveVms };
}

/** Samples the disk's holders every `intervalMs` until stop(). */
export function watchDiskHolders(cloud: LocalCloud, diskCid: string, intervalMs = 50): DiskWatch {
  const samples: DiskSample[] = [];
  const knownLoops = new Set<string>();
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      samples.push(
        await sampleDiskHolders(cloud, diskCid, knownLoops).catch((err: unknown) => ({
          at: Date.now(),
          loops: [],
          mountedOn: [],
          liveVms: [],
          error: String(err),
        })),
      );
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  })();
  return {
    samples,
    stop: async () => {
      stopped = true;
      await loop;
      return samples;
    },
  };
}
