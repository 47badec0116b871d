/**
 * How much room a copy of a persistent disk's data needs on the new disk: the used bytes plus 5 %
 * and 64 MiB for filesystem metadata and what the containers write meanwhile. The agent refuses a
 * copy that does not fit (migrate_disk "copy"); the director refuses a shrink below it before
 * anything stops. One rule, so that the two never disagree.
 */
const MiB = 1024 * 1024;

export function requiredBytesForData(usedBytes: number): number {
  return Math.ceil(usedBytes * 1.05) + 64 * MiB;
}

/** The same in whole MiB (a persistent_disk size). */
export function requiredMiBForData(usedBytes: number): number {
  return Math.ceil(requiredBytesForData(usedBytes) / MiB);
}
