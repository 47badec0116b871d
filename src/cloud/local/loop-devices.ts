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

/** Detaches every loop device backed by the file. */
export async function detachLoops(file: string): Promise<void> {
  for (const dev of await loopDevicesOf(file)) {
    await run('losetup', ['-d', dev]);
  }
}
