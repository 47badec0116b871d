/**
 * How the agent finds an attached disk on its VM (BOSH's disk hint, as a CPI's attach_disk answers
 * it). `path` is always present (empty when the CPI gave none). Which other field is set depends on
 * the CPI:
 * - a device path (`/dev/sdb`, a loop device for the local cloud): `path` alone;
 * - `volume_id` (AWS EBS, OpenStack Cinder) or `id` (GCE, virtio serials): found through
 *   /dev/disk/by-id links;
 * - `lun` and `host_device_id` (Azure, SCSI): found after a SCSI rescan;
 * - a directory inside the VM (warden/docker-style CPIs bind it in): `path` names a directory, and
 *   the agent bind-mounts it instead of making a filesystem.
 */
export interface DiskHint {
  path: string;
  volume_id?: string;
  id?: string;
  lun?: string | number;
  host_device_id?: string;
  [key: string]: unknown;
}
