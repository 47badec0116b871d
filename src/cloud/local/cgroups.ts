import { promises as fs } from 'node:fs';
import path from 'node:path';
import { sleep } from '../../common/waiting.js';

const CGROUP_ROOT = '/sys/fs/cgroup';

/** `/sys/fs/cgroup/<controller>/bosun-<cid>` for every controller (cgroup v1) or the unified root (v2). */
async function vmCgroupDirs(vmCid: string): Promise<string[]> {
  const name = `bosun-${vmCid}`;
  const dirs = [path.join(CGROUP_ROOT, name)];
  for (const entry of await fs.readdir(CGROUP_ROOT, { withFileTypes: true }).catch(() => [])) {
    if (entry.isDirectory()) dirs.push(path.join(CGROUP_ROOT, entry.name, name));
  }
  return dirs;
}

async function subdirsDepthFirst(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await fs.readdir(dir, { withFileTypes: true }).catch(() => [])) {
    if (entry.isDirectory()) out.push(...(await subdirsDepthFirst(path.join(dir, entry.name))));
  }
  out.push(dir);
  return out;
}

/**
 * Removes the cgroups dockerd created for the VM's containers (`--cgroup-parent /bosun-<cid>`).
 * A cgroup can only be removed once its last process is gone, which the kernel notices a moment
 * after the processes died: retry briefly. Returns the directories that remain.
 */
export async function removeVmCgroups(vmCid: string, timeoutMs = 3000): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const remaining: string[] = [];
    for (const top of await vmCgroupDirs(vmCid)) {
      for (const dir of await subdirsDepthFirst(top)) {
        try {
          await fs.rmdir(dir);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') remaining.push(dir);
        }
      }
    }
    if (remaining.length === 0 || Date.now() >= deadline) return remaining;
    await sleep(50);
  }
}
