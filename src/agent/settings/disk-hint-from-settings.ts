/**
 * A v1 CPI's attach_disk answers no disk hint (the director passes `{path: ''}` on): the CPI wrote
 * it into the VM's settings instead (`disks.persistent[cid]`), so mount_disk reads the settings
 * again from their source and takes it from there, as BOSH's agent does.
 */
import type { AgentSettings } from '../../common/contracts/agent-settings.js';
import type { DiskHint } from '../../common/contracts/disk-hint.js';
import { InvalidInputError } from '../../common/errors.js';

/** True for the hint of a CPI that gave none: an empty path and nothing else to find the disk by. */
export function isEmptyHint(hint: DiskHint): boolean {
  return Object.entries(hint).every(([key, value]) => (key === 'path' ? value === '' : value === undefined || value === null || value === ''));
}

/** The hint to mount with: the one given, or (none given) the one the settings' source has now. */
export async function diskHintFor(diskCid: string, hint: DiskHint, rereadSettings: (() => Promise<AgentSettings>) | undefined): Promise<DiskHint> {
  if (!isEmptyHint(hint)) return hint;
  if (rereadSettings === undefined) {
    throw new InvalidInputError(`mount_disk of ${diskCid} came with no disk hint, and this agent has no settings source to look the disk up in; the cloud must answer attach_disk with a hint.`);
  }
  const settings = await rereadSettings();
  const found = settings.disks[diskCid];
  if (found === undefined || isEmptyHint(found)) {
    throw new InvalidInputError(
      `mount_disk of ${diskCid} came with no disk hint (a v1 CPI's attach_disk gives none), and the VM's settings name no persistent disk ${diskCid} (disks.persistent has ${Object.keys(settings.disks).join(', ') || 'nothing'}); check that the CPI writes attached disks into the agent settings.`,
    );
  }
  return found;
}
