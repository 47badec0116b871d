import { constants, promises as fs } from 'node:fs';
import { sleep } from '../../common/waiting.js';
import { run } from './exec.js';

/** Attaches the file to a free loop device and returns its path (/dev/loopN). */
export async function attachLoop(file: string): Promise<string> {
  const { stdout } = await run('losetup', ['--find', '--show', file]);
  return stdout.trim();
}

/** Loop devices currently backed by the file (`losetup -j`). */
export async function loopDevicesOf(file: string): Promise<string[]> {
  const { stdout } = await run('losetup', ['-j', file]);
  return stdout
    .split('\n')
    .map((line) => line.split(':')[0]?.trim() ?? '')
    .filter((dev) => dev.startsWith('/dev/'));
}

/**
 * True when something holds the device exclusively — a mounted filesystem does, in any mount
 * namespace (a VM's mounts are invisible from the host's mountinfo). `losetup -d` on such a device
 * only sets autoclear and reports success, so it must be asked first.
 */
export async function loopDeviceInUse(device: string): Promise<boolean> {
  try {
    const handle = await fs.open(device, constants.O_RDONLY | constants.O_EXCL);
    await handle.close();
    return false;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EBUSY') return true;
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENXIO') return false;
    throw err;
  }
}

/** The loop devices of the file that are still in use (mounted). */
export async function busyLoopDevicesOf(file: string): Promise<string[]> {
  const busy: string[] = [];
  for (const dev of await loopDevicesOf(file)) if (await loopDeviceInUse(dev)) busy.push(dev);
  return busy;
}

/**
 * Waits (up to `timeoutMs`) until no loop device of the file is in use: after a VM's processes
 * were killed its mount namespace, and with it the mount, goes away a moment later.
 */
export async function waitUntilLoopsFree(file: string, timeoutMs: number): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const busy = await busyLoopDevicesOf(file);
    if (busy.length === 0 || Date.now() >= deadline) return busy;
    await sleep(100);
  }
}

/** Detaches every loop device backed by the file. */
export async function detachLoops(file: string): Promise<void> {
  for (const dev of await loopDevicesOf(file)) {
    await run('losetup', ['-d', dev]);
  }
}
