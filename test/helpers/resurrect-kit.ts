/**
 * Shared by the resurrection e2e tests (test/e2e/resurrect*.test.ts): the redis deployment with a
 * persistent disk, polling, and task/instance waits on a real Director.
 */
import type { Director } from '../../src/director/director.js';
import { redisCommand } from './redis-resp.js';

export const RESURRECT_MANIFEST = `
name: resurrect
update: {canaries: 1, max_in_flight: 1, canary_watch_time: 500-60000, update_watch_time: 500-60000}
instance_groups:
  - name: redis
    instances: 1
    persistent_disk: 256
    containers:
      - name: redis
        image: redis:7
        entrypoint: redis-server
        command: "--dir /var/lib/redis --appendonly yes --appendfsync always --protected-mode no"
        bind_ports: ["6379:6379"]
        bind_volumes: ["/var/lib/redis"]
`;

export async function waitUntil<T>(
  what: string,
  fn: () => Promise<T | undefined>,
  timeoutMs: number,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${last instanceof Error ? ` (${last.message})` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Waits for the task and throws unless it ended `done`; returns its result text. */
export async function ended(director: Director, id: number): Promise<string | null> {
  const t = await director.tasks.wait(id);
  if (t.state !== 'done') throw new Error(`task ${id} (${t.description}) ended ${t.state}: ${t.error}`);
  return t.result ?? null;
}

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

/** A redis key's value once redis at `ip` answers (it may still be starting). */
export function redisValue(ip: string, key: string, timeoutMs = 120_000): Promise<string> {
  return waitUntil(
    `redis at ${ip} answering GET ${key}`,
    () => redisCommand(ip, 6379, ['GET', key]).then((v) => v ?? undefined),
    timeoutMs,
  );
}
