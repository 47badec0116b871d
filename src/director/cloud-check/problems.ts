/**
 * Cloud-check's problem types and their resolutions (BOSH's names), each with a default for
 * `--auto`. bosun differs from BOSH in one default: mount_info_mismatch → reattach_disk (BOSH:
 * ignore), because re-attaching the instance's own disk is safe and is what the operator wants.
 */
import type { CckProblem } from '../../common/contracts/api.js';
import { InvalidInputError } from '../../common/errors.js';

export type ProblemType = CckProblem['type'];

export const RESOLUTIONS: Record<ProblemType, { default: string; options: Record<string, string> }> = {
  unresponsive_agent: {
    default: 'recreate_vm',
    options: {
      ignore: 'Skip for now',
      reboot_vm: 'Reboot the VM',
      recreate_vm: 'Recreate the VM and re-attach its persistent disks',
      delete_vm: 'Delete the VM',
      delete_vm_reference: 'Forget the VM (the cloud is not asked)',
    },
  },
  missing_vm: {
    default: 'recreate_vm',
    options: {
      ignore: 'Skip for now',
      recreate_vm: 'Recreate the VM and re-attach its persistent disks',
      delete_vm_reference: 'Forget the VM',
    },
  },
  missing_disk: {
    default: 'ignore',
    options: { ignore: 'Skip for now', delete_disk_reference: 'Forget the disk (its data is gone)' },
  },
  mount_info_mismatch: {
    default: 'reattach_disk',
    options: {
      ignore: 'Skip for now',
      reattach_disk: 'Attach the disk to the VM again and mount it',
      reattach_disk_and_reboot: 'Attach the disk again, reboot the VM and mount it',
    },
  },
  inactive_disk: {
    default: 'ignore',
    options: {
      ignore: 'Skip for now',
      delete_disk: 'Delete the disk (its data is lost)',
      activate_disk: 'Make it an active disk of the instance',
    },
  },
  unknown_vm: {
    default: 'ignore',
    options: { ignore: 'Skip for now', delete_vm: 'Delete the VM' },
  },
};

export function resolutionsOf(type: ProblemType): CckProblem['resolutions'] {
  return Object.entries(RESOLUTIONS[type].options).map(([name, description]) => ({ name, description }));
}

/** Throws a sentence listing what is allowed when a requested resolution does not exist. */
export function validateResolutions(resolutions: Record<string, string> | undefined): void {
  for (const [type, name] of Object.entries(resolutions ?? {})) {
    const entry = (RESOLUTIONS as Record<string, (typeof RESOLUTIONS)[ProblemType] | undefined>)[type];
    if (!entry) {
      throw new InvalidInputError(
        `"${type}" is not a cloud-check problem type; use one of ${Object.keys(RESOLUTIONS).join(', ')}.`,
      );
    }
    if (!(name in entry.options)) {
      throw new InvalidInputError(
        `"${name}" is not a resolution for ${type}; use one of ${Object.keys(entry.options).join(', ')}.`,
      );
    }
  }
}

/** The resolution to apply: explicit by type, else the default with `auto`, else ignore. */
export function chooseResolution(
  type: ProblemType,
  request: { auto?: boolean; resolutions?: Record<string, string> },
): string {
  return request.resolutions?.[type] ?? (request.auto ? RESOLUTIONS[type].default : 'ignore');
}
