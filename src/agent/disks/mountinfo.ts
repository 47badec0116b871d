/**
 * This mount namespace's mounts (the VM's, for the agent), from /proc/self/mountinfo: the one
 * parser the disk manager and the migration share.
 *
 * A line: `36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue`
 * (mount id, parent id, major:minor, root, mount point, options, optional fields, "-", fs type,
 * source, super options). Paths escape space, tab, newline and backslash as octal (\040 …).
 */
import { readFile } from 'node:fs/promises';

export interface MountEntry {
  mountPoint: string;
  /** The mounted directory within its filesystem (`/` for a whole filesystem; a bind mount's subtree). */
  root: string;
  fsType: string;
  source: string;
}

export function parseMountinfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const parts = line.split(' ');
    const sep = parts.indexOf('-', 6);
    const root = parts[3];
    const mountPoint = parts[4];
    const fsType = parts[sep + 1];
    const source = parts[sep + 2];
    if (sep < 0 || root === undefined || mountPoint === undefined || fsType === undefined || source === undefined) continue;
    out.push({ mountPoint: unescapeOctal(mountPoint), root: unescapeOctal(root), fsType, source: unescapeOctal(source) });
  }
  return out;
}

export async function readMounts(file = '/proc/self/mountinfo'): Promise<MountEntry[]> {
  return parseMountinfo(await readFile(file, 'utf8'));
}

/** The source mounted at `dir` (the topmost when mounts are stacked), or null. */
export async function sourceMountedAt(dir: string): Promise<string | null> {
  let found: string | null = null;
  for (const m of await readMounts()) if (m.mountPoint === dir) found = m.source;
  return found;
}

/** Mount point → source (the topmost mount wins). */
export async function mountSources(): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const m of await readMounts()) out.set(m.mountPoint, m.source);
  return out;
}

function unescapeOctal(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}
