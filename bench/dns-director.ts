/**
 * The director's sections of `npm run bench -- dns` (bench/dns.ts), on the local cloud with the
 * whole director stack in process (real agents, dockerd, containers): group `db` (one busybox
 * server) and group `app` (two VMs that look it up). "Withdrawn" and "answered" are what app's VMs'
 * DNS servers answer for `srv.db.<deployment>.bosun`, asked every 5 ms from the host.
 * - `withdrawnOnAnotherVm`: from `stop db/0`, and from the server container's SIGKILL (restart: no),
 *   until every app VM stops answering the name;
 * - `resurrectedAnsweredEverywhere`: the db VM killed from outside; from the new VM running (the
 *   director's instance state) until every app VM answers the new address.
 */
import { join } from 'node:path';
import { IMAGES_DIR } from '../test/helpers/agent-vm-fixture.js';
import { askDns } from '../test/helpers/dns-client.js';
import { createLocalDirectorStack, type LocalDirectorStack } from '../test/helpers/local-director-stack.js';
import { killVm } from '../test/helpers/vm-faults.js';
import { ended } from '../test/helpers/waits.js';
import { summary, until } from './bench-util.js';

const DEPLOYMENT = 'bench-dns';
const NAME = `srv.db.${DEPLOYMENT}.bosun`;

const MANIFEST = `
name: ${DEPLOYMENT}
update: {canaries: 1, max_in_flight: 2, canary_watch_time: 200-60000, update_watch_time: 200-60000}
instance_groups:
  - name: db
    instances: 1
    containers:
      - name: srv
        image: busybox
        command: "httpd -f -p 8080"
        bind_ports: ["8080:8080"]
        restart: "no"
        stop_timeout: 1
  - name: app
    instances: 2
    containers:
      - name: client
        image: busybox
        command: "sleep 1000000"
        stop_timeout: 1
`;

async function withStack<T>(work: (s: LocalDirectorStack) => Promise<T>): Promise<T> {
  const stack = await createLocalDirectorStack();
  try {
    const d = stack.director;
    await ended(d, (await d.uploadImage(join(IMAGES_DIR, 'busybox.tar'), undefined, 'bench')).id);
    await ended(d, (await d.deploy({ manifest: MANIFEST }, 'bench')).id);
    return await work(stack);
  } finally {
    await stack.close();
  }
}

async function ips(s: LocalDirectorStack): Promise<{ db: string; dbVm: string; apps: string[] }> {
  const list = await s.director.listInstances(DEPLOYMENT);
  const db = list.find((i) => i.group === 'db');
  if (!db?.ip || !db.vmCid) throw new Error('db/0 has no VM');
  return { db: db.ip, dbVm: db.vmCid, apps: list.filter((i) => i.group === 'app').map((i) => i.ip ?? '') };
}

async function answers(at: string): Promise<string[]> {
  const a = await askDns(at, 53, NAME, 'A', { timeoutMs: 300 }).catch(() => null);
  return a === null ? ['(no answer)'] : a.answers.flatMap((r) => (r.type === 'A' ? [r.address] : []));
}

const everywhere = async (apps: string[], want: string[]): Promise<boolean> =>
  (await Promise.all(apps.map(answers))).every((got) => JSON.stringify(got) === JSON.stringify(want));

async function job(s: LocalDirectorStack, action: 'stop' | 'start' | 'restart'): Promise<void> {
  await ended(s.director, (await s.director.runJob(DEPLOYMENT, { action, group: 'db', index: 0 }, 'bench')).id);
}

async function withdrawnOnAnotherVm(args: string[]): Promise<Record<string, unknown>> {
  const trials = Math.max(1, Number(args.find((a) => /^\d+$/.test(a)) ?? 5));
  return withStack(async (s) => {
    const { db, apps } = await ips(s);
    await until(() => everywhere(apps, [db]), Date.now(), 30_000, 20);
    const fromStop: number[] = [];
    const fromDeath: number[] = [];
    for (let t = 0; t < trials; t++) {
      const t0 = Date.now();
      const stopping = job(s, 'stop');
      fromStop.push(await until(() => everywhere(apps, []), t0, 10_000, 5));
      await stopping;
      await job(s, 'start');
      await until(() => everywhere(apps, [db]), Date.now(), 30_000, 20);

      const t1 = Date.now();
      const killing = s.director.runCommand(DEPLOYMENT, 'db', 0, 'docker kill -s KILL srv', 'bench');
      try {
        fromDeath.push(await until(() => everywhere(apps, []), t1, 10_000, 5));
      } catch (err) {
        const k = await killing;
        const seen = await Promise.all(apps.map(answers));
        const ps = (await s.director.listInstances(DEPLOYMENT, { ps: true })).find((i) => i.group === 'db')?.containers;
        throw new Error(
          `the killed container was not withdrawn (docker kill: exit ${k.exitCode} ${k.stderr.trim()}; its agent says ${JSON.stringify(ps)}; app VMs answer ${JSON.stringify(seen)}; the director has ${JSON.stringify(s.director.dns.recordSet.instances.find((i) => i.group === 'db'))})`,
          { cause: err },
        );
      }
      await killing;
      await job(s, 'restart');
      await until(() => everywhere(apps, [db]), Date.now(), 30_000, 20);
    }
    const figures = { otherVms: apps.length, fromStop: summary(fromStop), fromContainerDeath: summary(fromDeath) };
    process.stderr.write(`bench dns: withdrawnOnAnotherVm ${JSON.stringify(figures)}\n`);
    return figures;
  });
}

async function resurrectedAnsweredEverywhere(args: string[]): Promise<Record<string, unknown>> {
  const trials = Math.max(1, Number(args.find((a) => /^\d+$/.test(a)) ?? 2));
  const samples: number[] = [];
  const totals: number[] = [];
  // One stack (one deploy) per trial: a second kill of the same instance in one stack run did not
  // come back within minutes in this benchmark (not yet explained; the e2e tests kill once each).
  for (let t = 0; t < trials; t++) {
    await withStack(async (s) => {
      const d = s.director;
      const before = await ips(s);
      await until(() => everywhere(before.apps, [before.db]), Date.now(), 60_000, 20);
      const killedAt = await killVm(s.fx.cloud, before.dbVm);
      let newIp = '';
      await until(
        async () => {
          const i = (await d.listInstances(DEPLOYMENT)).find((x) => x.group === 'db');
          if (i?.vmCid == null || i.vmCid === before.dbVm || i.state !== 'running' || i.ip === null) return false;
          newIp = i.ip;
          return true;
        },
        killedAt,
        120_000,
        20,
      );
      const runningAt = Date.now();
      samples.push(await until(() => everywhere(before.apps, [newIp]), runningAt, 30_000, 5));
      totals.push(Date.now() - killedAt);
    });
  }
  const figures = { otherVms: 2, fromVmRunning: summary(samples), fromVmKilled: summary(totals) };
  process.stderr.write(`bench dns: resurrectedAnsweredEverywhere ${JSON.stringify(figures)}\n`);
  return figures;
}

export const DIRECTOR_SECTIONS = { withdrawnOnAnotherVm, resurrectedAnsweredEverywhere };
