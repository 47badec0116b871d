/**
 * The rules every bosun cloud applies to disk sizes, written once so that the fake cloud refuses
 * exactly what the local cloud refuses (the contract tests hold both to them).
 */
import { CloudError, NotSupportedError } from './cloud.js';

/** Throws unless `sizeMiB` is a positive whole number of MiB. */
export function checkNewDiskSize(sizeMiB: number): void {
  if (!Number.isInteger(sizeMiB) || sizeMiB <= 0) {
    throw new CloudError(`cannot create a disk of ${sizeMiB} MiB: the size must be a positive whole number of MiB`);
  }
}

/** Throws unless `disk` may be resized in place to `newSizeMiB`: a valid size, no shrink, detached. */
export function checkResizeInPlace(
  disk: { cid: string; sizeMiB: number; attachedTo: string | null },
  newSizeMiB: number,
): void {
  if (!Number.isInteger(newSizeMiB) || newSizeMiB <= 0) {
    throw new CloudError(
      `cannot resize disk ${disk.cid} to ${newSizeMiB} MiB: the size must be a positive whole number of MiB`,
    );
  }
  if (newSizeMiB < disk.sizeMiB) {
    throw new NotSupportedError(`shrinking disk ${disk.cid} from ${disk.sizeMiB} MiB to ${newSizeMiB} MiB in place`);
  }
  if (disk.attachedTo !== null) {
    throw new CloudError(`cannot resize disk ${disk.cid}: it is attached to VM ${disk.attachedTo}; detach it first`);
  }
}
