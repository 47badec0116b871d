/**
 * The redis deployment the full-stack e2e tests and benchmarks run on a local director stack: one
 * redis/0 with a persistent disk at /var/lib/redis and port 6379 bound on the VM's IP.
 */
import { join } from 'node:path';
import type { InstanceInfo } from '../../src/common/contracts/api.js';
import type { Director } from '../../src/director/director.js';
import { IMAGES_DIR } from './agent-vm-fixture.js';
import {
  createLocalDirectorStack,
  type LocalDirectorStack,
  type LocalDirectorStackOptions,
} from './local-director-stack.js';
import { redisCommand } from './redis-resp.js';
import { ended, waitUntil } from './waits.js';

export interface RedisManifestOptions {
  /** The deployment's name. */
  name: string;
  diskMiB: number;
  /** `--appendfsync always` (every write on the disk before redis answers); default true. */
  fsyncEveryWrite?: boolean;
}

export function redisManifest({ name, diskMiB, fsyncEveryWrite = true }: RedisManifestOptions): string {
  const fsync = fsyncEveryWrite ? ' --appendfsync always' : '';
  return `
name: ${name}
update: {canaries: 1, max_in_flight: 1, canary_watch_time: 500-60000, update_watch_time: 500-60000}
instance_groups:
  - name: redis
    instances: 1
    persistent_disk: ${diskMiB}
    containers:
      - name: redis
        image: redis:7
        entrypoint: redis-server
        command: "--dir /var/lib/redis --appendonly yes${fsync} --protected-mode no"
        bind_ports: ["6379:6379"]
        bind_volumes: ["/var/lib/redis"]
`;
}

/**
 * A local director stack (see local-director-stack.ts) with build/images/redis.tar uploaded and
 * `manifest` deployed; throws (after closing the stack) unless both tasks end done.
 */
export async function createRedisStack(
  manifest: string,
  options: LocalDirectorStackOptions = {},
): Promise<LocalDirectorStack> {
  const stack = await createLocalDirectorStack(options);
  try {
    const d = stack.director;
    await ended(d, (await d.uploadImage(join(IMAGES_DIR, 'redis.tar'), undefined, 'admin')).id);
    await ended(d, (await d.deploy({ manifest }, 'admin')).id);
    return stack;
  } catch (err) {
    await stack.close();
    throw err;
  }
}

export type PlacedInstance = InstanceInfo & { vmCid: string; ip: string; diskCid: string };

/** The deployment's redis/0 with its VM, IP and disk; throws when any of them is missing. */
export async function redisInstance(director: Director, deployment: string): Promise<PlacedInstance> {
  const [i] = await director.listInstances(deployment);
  const diskCid = i?.diskCids[0];
  if (!i?.vmCid || !i.ip || !diskCid) throw new Error(`redis/0 of ${deployment} has no VM, IP or disk`);
  return { ...i, vmCid: i.vmCid, ip: i.ip, diskCid };
}

/** A redis key's value once redis at `ip` answers (it may still be starting). */
export function redisValue(ip: string, key: string, timeoutMs = 120_000): Promise<string> {
  return waitUntil(
    `redis at ${ip} answering GET ${key}`,
    () => redisCommand(ip, 6379, ['GET', key]).then((v) => v ?? undefined),
    timeoutMs,
  );
}
