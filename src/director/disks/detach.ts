/**
 * Detaching persistent disks, the one way: a disk leaves a live VM only after its agent unmounted
 * it. A refused unmount (containers or processes still use the store) stops the caller with the
 * agent's error, which names them; the disk stays mounted, attached and recorded. Only deleting
 * the VM releases a disk that is still mounted (deleteInstanceVm).
 */
import type { AgentApi } from '../../common/contracts/agent-protocol.js';
import { BosunError, ConflictError, errorMessage } from '../../common/errors.js';
import { DiskNotAttachedError, VmNotFoundError, type Cloud } from '../../cloud/cloud.js';
import { withDeadline } from '../../common/waiting.js';

/** Detaches the disk; a disk already detached, or a VM already gone, counts as done. */
export async function detachIgnoringAbsent(cloud: Cloud, vmCid: string, diskCid: string): Promise<void> {
  try {
    await cloud.detachDisk(vmCid, diskCid);
  } catch (err) {
    if (!(err instanceof DiskNotAttachedError || err instanceof VmNotFoundError)) throw err;
  }
}

/**
 * Unmounts the disk through the VM's agent, then detaches it. Throws when the agent does not
 * unmount it (refused, failed or no answer): then nothing was detached.
 */
export async function unmountAndDetach(
  cloud: Cloud,
  agent: AgentApi,
  target: { vmCid: string; name: string },
  diskCid: string,
  timeoutMs: number,
): Promise<void> {
  try {
    await withDeadline(timeoutMs, `unmount_disk of ${diskCid} on ${target.name}`, (signal) =>
      agent.unmountDisk(diskCid, { signal }),
    );
  } catch (err) {
    const message =
      `Cannot detach disk ${diskCid} from ${target.name}: the agent did not unmount it (${errorMessage(err)}). ` +
      'The disk stays mounted, attached and recorded; nothing was detached. Stop what uses it (bosun stop) and run the command again.';
    if (err instanceof BosunError) throw new BosunError(err.code, err.httpStatus, message, { cause: err, details: err.details });
    throw new ConflictError(message, { cause: err });
  }
  await detachIgnoringAbsent(cloud, target.vmCid, diskCid);
}
