/**
 * The one way tests and benchmarks get into a local-cloud VM from the host. A stemcell VM has its
 * own root (pivot_root over the stemcell), so a host path means nothing inside it: commands enter
 * all of the VM's namespaces and its root (`nsenter -m -p -n -r -w`), files are read through
 * /proc/<PID 1>/root or read inside it, and an image tarball on the host is streamed into the VM's dockerd through stdin.
 *
 *   await runInVm(pid1, ['cat', '/var/vcap/bosh/etc/stemcell_version']);
 *   await loadImageIntoVm(pid1, 'build/images/busybox.tar');
 */
import { execFile, spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import { pidNamespaceOf, processesInPidNamespace } from '../../src/cloud/local/processes.js';
import { STEMCELL_VM_PATHS } from '../../src/common/contracts/agent-settings.js';

const exec = promisify(execFile);

/** Where things are inside a stemcell VM (the agent's settings paths: BOSH's layout). */
export const VM_PATHS = STEMCELL_VM_PATHS;
export const VM_DOCKER_SOCKET = path.join(VM_PATHS.run, 'docker.sock');
export const VM_DOCKER_PID_FILE = path.join(VM_PATHS.run, 'docker.pid');

/** nsenter's arguments for entering the VM whose PID 1 is `pid1`: mount, PID and network namespaces, root and cwd. */
export function enterVmArgs(pid1: number): string[] {
  return ['-t', String(pid1), '-m', '-p', '-n', '-r', '-w', '--'];
}

/** Runs `args` inside the VM; resolves with stdout, rejects (with stderr in the message) on a non-zero exit. */
export async function runInVm(pid1: number, args: string[], options: { timeoutMs?: number } = {}): Promise<string> {
  try {
    return (await exec('nsenter', [...enterVmArgs(pid1), ...args], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, timeout: options.timeoutMs ?? 60_000 })).stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`in the VM (PID 1 ${pid1}), \`${args.join(' ')}\` failed: ${e.stderr?.trim() || e.message}`, { cause: err });
  }
}

/** Runs `args` inside the VM with the host file `stdinFile` as its standard input. */
export async function runInVmWithInput(pid1: number, args: string[], stdinFile: string, timeoutMs = 180_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('nsenter', [...enterVmArgs(pid1), ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    child.stdin.on('error', () => undefined); // the command may exit before reading everything; its exit code tells
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(stdout);
      else reject(new Error(`in the VM (PID 1 ${pid1}), \`${args.join(' ')} < ${stdinFile}\` failed (${signal ?? `exit ${String(code)}`}): ${stderr.trim()}`));
    });
    createReadStream(stdinFile)
      .on('error', (err) => {
        child.kill('SIGKILL');
        reject(err);
      })
      .pipe(child.stdin);
  });
}

/**
 * The host path of `pathInVm` (through /proc/<PID 1>/root, valid while the VM runs). An absolute
 * symlink on the way resolves against the host's root, not the VM's: use it for paths without one.
 */
export function hostPathOf(pid1: number, pathInVm: string): string {
  return `/proc/${pid1}/root${path.resolve('/', pathInVm)}`;
}

/** A file as the VM sees it (read inside the VM, so its symlinks resolve as there). */
export async function readFileInVm(pid1: number, pathInVm: string): Promise<string> {
  return runInVm(pid1, ['cat', '--', pathInVm]);
}

/** dockerode on the VM's dockerd (its socket is on the VM's private run tmpfs). */
export function vmDocker(pid1: number): Docker {
  return new Docker({ socketPath: hostPathOf(pid1, VM_DOCKER_SOCKET) });
}

/** `docker load` of an image tarball on the host into the VM's dockerd, streamed through stdin. */
export async function loadImageIntoVm(pid1: number, tarPath: string): Promise<void> {
  await runInVmWithInput(pid1, ['docker', '-H', `unix://${VM_DOCKER_SOCKET}`, 'load', '-q'], tarPath);
}

/** The agent's PID as the VM sees it (its only node process), for `runInVm(pid1, ['kill', …])`. */
export async function agentPidInVm(pid1: number): Promise<number> {
  const out = (await runInVm(pid1, ['pgrep', '-x', 'node'])).trim().split('\n').filter(Boolean);
  if (out.length !== 1) throw new Error(`expected one agent process in the VM (PID 1 ${pid1}), found ${out.length}`);
  return Number(out[0]);
}

/** Host PIDs of every process of the VM (its PID namespace: PID 1, agent, dockerd, containerd, shims). */
export async function vmProcesses(pid1: number): Promise<number[]> {
  const ns = await pidNamespaceOf(pid1);
  return ns === null ? [] : processesInPidNamespace(ns);
}

/** The PID 1 the local cloud recorded for a VM (in `<vmDir>/vm.json`: `cloud.vmDir(cid)`, `<cloud dir>/vms/<cid>`), or null. */
export async function recordedPid1(vmDir: string): Promise<number | null> {
  const text = await readFile(path.join(vmDir, 'vm.json'), 'utf8').catch(() => null);
  return text === null ? null : ((JSON.parse(text) as { pid1: number | null }).pid1 ?? null);
}

/** Where the agent of a local-cloud VM keeps things: the stemcell's paths, or the host-binaries boot's under the VM dir. */
export async function vmPathsOf(vmDir: string): Promise<typeof VM_PATHS> {
  const record = JSON.parse(await readFile(path.join(vmDir, 'vm.json'), 'utf8')) as { stemcellCid?: string };
  if (record.stemcellCid !== undefined) return VM_PATHS;
  const at = (p: string): string => path.join(vmDir, p);
  return { root: vmDir, store: at('store'), migration: at('migration'), ephemeral: at('ephemeral'), run: at('run') };
}
