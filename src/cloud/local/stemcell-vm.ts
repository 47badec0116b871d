/**
 * Booting a VM from a stemcell: inside the VM's own mount namespace its root becomes an overlay
 * (lower: the stemcell's unpacked root filesystem, shared read-only by every VM of that stemcell;
 * upper: the VM's own directory), with its own /proc, a read-only /sys with the host's cgroup
 * hierarchies for dockerd, a /dev holding only what a VM needs plus its attached loop devices, its
 * ephemeral directory at /var/vcap/data and a tmpfs run directory; then pivot_root into it, so the
 * VM no longer sees the host's folders, and docker-init (tini) of the stemcell becomes PID 1 over
 * the stemcell's /usr/sbin/runsvdir-start, started with an empty environment.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { run, shellQuote } from './exec.js';
import { startProcessTree, type LaunchedVm, type VmPaths } from './vm-process.js';
import { DIRECTORY_DISKS_IN_VM, attachedDisksDir } from './directory-disks.js';

/** The File settings source path the stemcell's agent.json names (BOSH's warden convention). */
const SETTINGS_IN_VM = '/var/vcap/bosh/warden-cpi-agent-env.json';

export interface StemcellVmPaths {
  /** The merged root (mount point of the overlay, only inside the VM's mount namespace). */
  root: string;
  upper: string;
  work: string;
  /** The agent's settings on the host: in the ephemeral directory, so a rewrite (rename) is seen inside. */
  settings: string;
}

export function stemcellVmPaths(vmDir: string): StemcellVmPaths {
  return {
    root: path.join(vmDir, 'root'),
    upper: path.join(vmDir, 'upper'),
    work: path.join(vmDir, 'overlay-work'),
    settings: path.join(vmDir, 'ephemeral', 'bosh', 'agent-env.json'),
  };
}

export async function prepareStemcellVmDirs(vmDir: string): Promise<void> {
  const p = stemcellVmPaths(vmDir);
  for (const dir of [p.root, p.upper, p.work, path.dirname(p.settings)]) await fs.mkdir(dir, { recursive: true });
}

/** Major and minor number of a block device on the host ("7 3" for /dev/loop3). */
async function deviceNumbers(device: string): Promise<[number, number]> {
  const { stdout } = await run('stat', ['-L', '-c', '%t %T', device]);
  const [major, minor] = stdout.trim().split(' ').map((h) => parseInt(h, 16));
  return [major ?? 7, minor ?? 0];
}

async function mknodLines(root: string, devices: string[]): Promise<string[]> {
  const lines: string[] = [];
  for (const device of devices) {
    const [major, minor] = await deviceNumbers(device);
    lines.push(`mknod -m 660 ${shellQuote(path.join(root, device))} b ${major} ${minor}`);
  }
  return lines;
}

export async function launchStemcellVm(
  vmCid: string,
  paths: VmPaths,
  stemcellRootfs: string,
  loopDevices: string[],
  restartDelaySeconds: number,
): Promise<LaunchedVm> {
  const p = stemcellVmPaths(paths.root);
  const R = shellQuote(p.root);
  const at = (inVm: string): string => shellQuote(path.join(p.root, inVm));
  const init = [
    'set -e',
    `mount -t overlay bosun-root -o ${shellQuote(`lowerdir=${stemcellRootfs},upperdir=${p.upper},workdir=${p.work}`)} ${R}`,
    `mkdir -p ${at('/var/vcap/data')} ${at('/var/vcap/store')} ${at('/var/vcap/store_migration_target')} ${at('/var/vcap/sys/run')}`,
    `mount --bind ${shellQuote(path.join(paths.root, 'ephemeral'))} ${at('/var/vcap/data')}`,
    `mount -t tmpfs -o mode=0755 bosun-run ${at('/var/vcap/sys/run')}`,
    // Directory disks attached to the VM appear here (directory-disks.ts).
    `mkdir -p ${shellQuote(attachedDisksDir(paths.root))} ${at(DIRECTORY_DISKS_IN_VM)}`,
    `mount --bind ${shellQuote(attachedDisksDir(paths.root))} ${at(DIRECTORY_DISKS_IN_VM)}`,
    `mount -t proc proc ${at('/proc')}`,
    `mount -t sysfs -o ro,nosuid,nodev,noexec sysfs ${at('/sys')}`,
    `mount --rbind /sys/fs/cgroup ${at('/sys/fs/cgroup')}`,
    `mount -t tmpfs -o mode=0755,nosuid bosun-dev ${at('/dev')}`,
    ...[['null', 1, 3], ['zero', 1, 5], ['full', 1, 7], ['random', 1, 8], ['urandom', 1, 9], ['tty', 5, 0]].map(
      ([name, major, minor]) => `mknod -m 666 ${at(`/dev/${String(name)}`)} c ${String(major)} ${String(minor)}`,
    ),
    `mkdir -p ${at('/dev/pts')} ${at('/dev/shm')}`,
    `mount -t devpts -o newinstance,ptmxmode=0666,mode=620 devpts ${at('/dev/pts')}`,
    `ln -s pts/ptmx ${at('/dev/ptmx')}`,
    `mount -t tmpfs -o mode=1777,nosuid,nodev bosun-shm ${at('/dev/shm')}`,
    `ln -s /proc/self/fd ${at('/dev/fd')}`,
    `ln -s /proc/self/fd/0 ${at('/dev/stdin')}`,
    `ln -s /proc/self/fd/1 ${at('/dev/stdout')}`,
    `ln -s /proc/self/fd/2 ${at('/dev/stderr')}`,
    ...(await mknodLines(p.root, loopDevices)),
    `touch ${at('/etc/resolv.conf')}`,
    `mount --bind ${shellQuote(paths.resolvConf)} ${at('/etc/resolv.conf')}`,
    `ln -sf ${shellQuote(path.join('/var/vcap/data', path.relative(path.join(paths.root, 'ephemeral'), p.settings)))} ${at(SETTINGS_IN_VM)}`,
    `mkdir -p ${at('/.host-root')}`,
    `cd ${R}`,
    'pivot_root . .host-root',
    'cd /',
    'umount -l /.host-root',
    'rmdir /.host-root',
    `exec env -i BOSUN_AGENT_RESTART_DELAY=${restartDelaySeconds} /usr/bin/docker-init -- /usr/sbin/runsvdir-start`,
  ].join('\n');
  return startProcessTree(vmCid, paths.consoleLog, init, '');
}

/**
 * Makes a loop device attached to a running stemcell VM visible in its /dev (and removes it on
 * detach). `-r -w`: after pivot_root the VM's root is not the host's, so enter its root too.
 */
export async function exposeLoopDevice(pid1: number, device: string): Promise<void> {
  const [major, minor] = await deviceNumbers(device);
  await run('nsenter', ['-t', String(pid1), '-m', '-p', '-r', '-w', '--', 'sh', '-c', `[ -e ${shellQuote(device)} ] || { mknod ${shellQuote(device)} b ${major} ${minor} && chmod 660 ${shellQuote(device)}; }`]);
}

export async function hideLoopDevice(pid1: number, device: string): Promise<void> {
  await run('nsenter', ['-t', String(pid1), '-m', '-p', '-r', '-w', '--', 'rm', '-f', device]);
}
