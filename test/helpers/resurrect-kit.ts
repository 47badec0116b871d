/**
 * Shared by the resurrection e2e tests (test/e2e/resurrect*.test.ts) and bench/resurrect.ts: the
 * redis deployment with a persistent disk, and the wait for its instance on a new VM.
 */
import type { Director } from '../../src/director/director.js';
import { redisManifest } from './redis-deployment.js';
import { waitUntil } from './waits.js';

export const RESURRECT_DEPLOYMENT = 'resurrect';
export const RESURRECT_MANIFEST = redisManifest({ name: RESURRECT_DEPLOYMENT, diskMiB: 256 });

/** The instance once it runs on a VM other than `oldVmCid` and has an IP. */
export function newVmOf(director: Director, deployment: string, oldVmCid: string, timeoutMs = 120_000) {
  return waitUntil(
    `${deployment}'s instance on a VM other than ${oldVmCid}`,
    async () => {
      const [i] = await director.listInstances(deployment);
      return i?.vmCid && i.vmCid !== oldVmCid && i.ip ? i : undefined;
    },
    timeoutMs,
  );
}
