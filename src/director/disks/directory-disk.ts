/**
 * Whether a persistent disk is a directory disk, as far as the director can tell from its hint: a
 * warden/docker-style CPI answers attach_disk with the path of a directory inside the VM
 * (`/warden-cpi-dev/<cid>`), which the agent bind-mounts. The director cannot look inside the VM;
 * block devices are always under /dev, and the other hint shapes (volume_id, id, lun) name one, so
 * a hint with only a path outside /dev is a directory. Such a disk has no size of its own: it is
 * never grown in place (resize is by copy), and its usage is that of the filesystem holding it.
 */
import type { DiskHint } from '../../common/contracts/disk-hint.js';

export function isDirectoryHint(hint: DiskHint | string | null | undefined): boolean {
  if (hint === null || hint === undefined) return false;
  const h: DiskHint = typeof hint === 'string' ? { path: hint } : hint;
  const locatesDevice = ['volume_id', 'id', 'lun', 'host_device_id'].some((k) => h[k] !== undefined && h[k] !== '');
  return !locatesDevice && typeof h.path === 'string' && h.path.startsWith('/') && !h.path.startsWith('/dev/');
}
