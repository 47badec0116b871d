/**
 * The full-stack variant of the resize benchmark: the real director deploys redis with a persistent
 * disk onto a local-cloud VM (agent, dockerd, loop device); the data set is written into the VM's
 * store; then a grow in place and a shrink by copy (with ~1 % of the data rewritten during the copy)
 * are run as ordinary deploys. Downtime = from "stop containers" started to "start containers"
 * finished in the task's events (so it includes redis's stop and start); total = the task's duration.
 */
import { mkdir, open, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { TaskEvent } from '../src/common/contracts/api.js';
import type { Director } from '../src/director/director.js';
import { writeDataSet } from '../test/helpers/disk-data-set.js';
import { hostPathOf, vmPathsOf } from '../test/helpers/in-vm.js';
import { createRedisStack, redisInstance, redisManifest } from '../test/helpers/redis-deployment.js';
import { redisCommand } from '../test/helpers/redis-resp.js';

const MiB = 1024 * 1024;

const manifest = (diskMiB: number): string =>
  redisManifest({ name: 'resize-bench', diskMiB, fsyncEveryWrite: false });

function downtimeMs(events: TaskEvent[]): number {
  const stop = events.find((e) => e.step === 'stop containers' && e.state === 'started');
  const start = events.find((e) => e.step === 'start containers' && e.state === 'finished');
  return stop && start ? Date.parse(start.time) - Date.parse(stop.time) : -1;
}

async function deploy(d: Director, diskMiB: number, during?: (taskId: number) => Promise<unknown>) {
  const t0 = Date.now();
  const ref = await d.deploy({ manifest: manifest(diskMiB) }, 'admin');
  const side = during?.(ref.id);
  const task = await d.tasks.wait(ref.id);
  await side;
  if (task.state !== 'done') throw new Error(`deploy to ${diskMiB} MiB failed: ${task.error}`);
  const events = await d.taskEvents(ref.id);
  return { totalMs: Date.now() - t0, downtimeMs: downtimeMs(events), events };
}

export async function runStack(dataMiB: number, diskMiB: number): Promise<unknown> {
  const stack = await createRedisStack(manifest(diskMiB));
  try {
    const d = stack.director;
    const i = await redisInstance(d, 'resize-bench');
    const pid = await stack.fx.cloud.vmPid(i.vmCid);
    if (pid === null) throw new Error(`VM ${i.vmCid} has no PID 1`);
    const store = hostPathOf(pid, (await vmPathsOf(stack.fx.cloud.vmDir(i.vmCid))).store);
    const dataset = path.join(store, 'dataset');
    await mkdir(dataset, { recursive: true });
    const largeMiB = 128;
    const largeFiles = Math.max(1, Math.floor((dataMiB * 0.75) / largeMiB));
    const smallFiles = Math.floor(((dataMiB - largeFiles * largeMiB) * MiB) / (34 * 1024));
    await writeDataSet(dataset, { smallFiles, smallMin: 4096, smallMax: 64 * 1024, largeFiles, largeMiB });
    await redisCommand(i.ip, 6379, ['SET', 'bench', 'kept']);

    const grow = await deploy(d, diskMiB + 1024);

    // ~1 % of the data rewritten while the bulk copy runs (the containers are still up).
    const churn = async (taskId: number): Promise<number> => {
      for (;;) {
        const ev = await d.taskEvents(taskId);
        if (ev.some((e) => e.step === 'copy data while the containers run')) break;
        if (ev.some((e) => e.state === 'failed')) return 0;
        await new Promise((r) => setTimeout(r, 50));
      }
      const chunk = Buffer.alloc(256 * 1024, 9);
      let written = 0;
      for (let k = 0; written < dataMiB * MiB * 0.01; k++) {
        if (k % 2 === 0) {
          const fh = await open(path.join(dataset, 'big', `large${k % largeFiles}.bin`), 'r+');
          await fh.write(chunk, 0, chunk.length, (k % 100) * MiB);
          await fh.close();
        } else {
          await writeFile(path.join(dataset, `churn-${k}`), chunk);
        }
        written += chunk.length;
        await new Promise((r) => setTimeout(r, 50));
      }
      return written;
    };
    let churned = 0;
    const shrinkTo = Math.ceil(dataMiB * 1.5);
    const shrink = await deploy(d, shrinkTo, async (id) => {
      churned = await churn(id);
    });
    const copyEvents = shrink.events.filter(
      (e) => e.state === 'in_progress' && typeof e.data?.bytesCopied === 'number',
    );
    const step = (name: string): number | undefined =>
      shrink.events.find((e) => e.step === name && e.state === 'finished')?.elapsedMs;
    const [after] = await d.listInstances('resize-bench');
    const kept = await redisCommand(after?.ip ?? '', 6379, ['GET', 'bench']);
    return {
      mode: 'full stack: director + local-cloud VM + agent + dockerd + redis; downtime includes redis stop and start',
      dataMiB,
      growInPlace: {
        fromMiB: diskMiB,
        toMiB: diskMiB + 1024,
        downtimeMs: grow.downtimeMs,
        totalMs: grow.totalMs,
      },
      shrinkByCopy: {
        toMiB: shrinkTo,
        writtenDuringCopyMiB: Math.round(churned / MiB),
        downtimeMs: shrink.downtimeMs,
        totalMs: shrink.totalMs,
        bulkCopyMs: step('copy data while the containers run'),
        catchUpMs: step('copy changes while the containers run'),
        stopMs: step('stop containers'),
        deltaAndVerifyMs: step('copy changes and verify'),
        swapMs: step('swap disks'),
        startMs: step('start containers'),
        progressEvents: copyEvents.length,
        redisKeptItsData: kept === 'kept',
      },
    };
  } finally {
    await stack.close();
  }
}
