/**
 * Issue 15 end to end, the director's side: a director (the built CLI's `bosun up`, local cloud)
 * deploys redis in group `db` and a busybox client in group `app`, on two VMs. The client finds
 * redis by name and talks to it; the db VM is lost and resurrected and the same name works again
 * without touching `app`; `bosun stop db/0` and a failing health check withdraw the name from
 * app's answers; with the director stopped the names still resolve; the cross-VM link's variables
 * and alias work. Needs root and `npm run build`; run it under the e2e lock.
 */
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeploymentDns, InstanceInfo } from '../../src/common/contracts/api.js';
import { netnsName } from '../../src/cloud/local/network.js';
import { pollUntil } from '../../src/common/waiting.js';
import { startDirectorFixture, type DirectorFixture } from '../helpers/director-fixture.js';
import { askDns } from '../helpers/dns-client.js';

const exec = promisify(execFile);
const NAME = 'sd';
const REDIS = `redis.db.${NAME}.bosun`;

const MANIFEST = `
name: ${NAME}
update: {canaries: 1, max_in_flight: 2, canary_watch_time: 500-60000, update_watch_time: 500-60000}
dns_aliases:
  cache.internal: redis.db
instance_groups:
  - name: db
    instances: 1
    containers:
      - name: redis
        image: redis:7
        entrypoint: redis-server
        command: "--protected-mode no"
        bind_ports: ["6379:6379"]
        healthcheck: {test: "test ! -e /tmp/sick", interval: 300ms, timeout: 2s, retries: 1}
  - name: app
    instances: 1
    containers:
      - name: client
        image: busybox
        command: "sleep 1000000"
        links: ["db/redis:cache"]
`;

const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

describe('service discovery across VMs (director, local cloud, real agents and containers)', () => {
  let d: DirectorFixture;
  const ok = (r: { code: number; stdout: string; stderr: string }): string => {
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    return r.stdout;
  };
  const instance = async (group: string): Promise<InstanceInfo & { ip: string; vmCid: string }> => {
    const i = (await d.json<InstanceInfo[]>('-d', NAME, 'instances')).find((x) => x.group === group);
    if (!i?.ip || !i.vmCid) throw new Error(`${group}/0 has no VM`);
    return { ...i, ip: i.ip, vmCid: i.vmCid };
  };
  /** A command in app's client container (sh -c), through `bosun ssh`. */
  const inClient = async (command: string): Promise<string> =>
    ok(await d.cli('-d', NAME, 'ssh', 'app/0', '-c', `docker exec client sh -c ${quote(command)}`));
  /** What app's VM answers for a name (its DNS server, as the client's resolver asks it). */
  const appAnswers = async (appIp: string, name = REDIS): Promise<string[]> =>
    (await askDns(appIp, 53, name, 'A', { timeoutMs: 500 })).answers.flatMap((a) => (a.type === 'A' ? [a.address] : []));
  /** Milliseconds from `since` until app's VM answers `name` with exactly `want`. */
  const untilAnswers = async (appIp: string, want: string[], since: number, timeoutMs: number): Promise<number> => {
    await pollUntil(async () => (JSON.stringify(await appAnswers(appIp)) === JSON.stringify(want) ? true : undefined), {
      timeoutMs,
      intervalMs: 20,
      what: `app's VM answering ${REDIS} with [${want.join(', ')}]`,
    });
    return Date.now() - since;
  };
  const note = (what: string, ms: number): void => console.warn(`dns e2e: ${what}: ${ms} ms`);

  beforeAll(async () => {
    d = await startDirectorFixture({ images: ['busybox', 'redis'] });
    const file = join(d.fx.dataDir, 'sd.yml');
    await writeFile(file, MANIFEST);
    ok(await d.cli('-d', NAME, 'deploy', file, '-n'));
  }, 300_000);
  afterAll(async () => {
    await d?.cleanup();
  }, 180_000);

  it('a container in app resolves redis.db.<deployment>.bosun to the db VM and talks to redis', async () => {
    const db = await instance('db');
    const app = await instance('app');
    await untilAnswers(app.ip, [db.ip], Date.now(), 10_000);
    expect(await inClient(`nslookup ${REDIS}`)).toContain(db.ip);
    // The deployment's search domain: `redis.db` works too.
    expect(await inClient("printf 'PING\\r\\n' | nc -w 2 redis.db 6379")).toContain('+PONG');
    const dns = await d.json<DeploymentDns>('-d', NAME, 'dns');
    expect(dns.records.find((r) => r.name === REDIS)?.answers).toEqual([db.ip]);
    expect(dns.agents).toEqual({ current: 2, total: 2 });
    expect(app.dnsNames).toEqual([`0.client.app.${NAME}.bosun`]);
  }, 60_000);

  it("a cross-VM link's variables and alias work, and so does a dns_aliases name", async () => {
    const db = await instance('db');
    const env = await inClient('env | grep ^CACHE_ | sort');
    expect(env).toContain(`CACHE_PORT=tcp://${REDIS}:6379`);
    expect(env).toContain(`CACHE_PORT_6379_TCP_ADDR=${REDIS}`);
    expect(env).toContain('CACHE_PORT_6379_TCP_PORT=6379');
    expect(env).toContain('CACHE_PORT_6379_TCP_PROTO=tcp');
    // (busybox nslookup also asks AAAA and the next search domains: it exits 1 though A answered.)
    expect(await inClient('nslookup cache 2>&1; true')).toContain(db.ip);
    expect(await inClient("printf 'PING\\r\\n' | nc -w 2 cache 6379")).toContain('+PONG');
    expect(await inClient('printf "PING\\r\\n" | nc -w 2 $CACHE_PORT_6379_TCP_ADDR $CACHE_PORT_6379_TCP_PORT')).toContain('+PONG');
    expect(await inClient('nslookup cache.internal 2>&1; true')).toContain(db.ip);
  }, 60_000);

  it('bosun stop db/0 withdraws the name from app within 1 s; start brings it back', async () => {
    const db = await instance('db');
    const app = await instance('app');
    const t0 = Date.now();
    const stopping = d.cli('-d', NAME, 'stop', 'db/0', '-n');
    const withdrawnMs = await untilAnswers(app.ip, [], t0, 5_000);
    note('stop → withdrawn on app', withdrawnMs);
    ok(await stopping);
    expect(withdrawnMs, 'ms from `bosun stop db/0` to the name withdrawn on app').toBeLessThan(1_000);
    ok(await d.cli('-d', NAME, 'start', 'db/0', '-n'));
    note('start → answered on app', await untilAnswers(app.ip, [db.ip], t0, 15_000));
  }, 60_000);

  it('a failing health check withdraws the name from app; it comes back once redis is healthy again', async () => {
    const db = await instance('db');
    const app = await instance('app');
    const t0 = Date.now();
    ok(await d.cli('-d', NAME, 'ssh', 'db/0', '-c', 'docker exec redis touch /tmp/sick'));
    note('health check failing → withdrawn on app', await untilAnswers(app.ip, [], t0, 10_000));
    // Healthy again: the file goes (the agent may be restarting the unhealthy container, which
    // keeps its file system, so the removal is repeated until it lands).
    const t1 = Date.now();
    await pollUntil(
      async () => {
        await d.cli('-d', NAME, 'ssh', 'db/0', '-c', 'docker exec redis rm -f /tmp/sick || true');
        return (await appAnswers(app.ip)).includes(db.ip) ? true : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 200, what: `app's VM answering ${REDIS} again` },
    );
    note('healthy again → answered on app', Date.now() - t1);
  }, 90_000);

  it('the db VM is lost and resurrected: the same name answers the new address on app, which is not touched', async () => {
    const before = await instance('db');
    const app = await instance('app');
    const t0 = Date.now();
    // The VM dies as with a host failure: its PID 1 killed (and with it every process of the VM),
    // its network namespace gone.
    const vm = JSON.parse(await readFile(join(d.cloudDir, 'vms', before.vmCid, 'vm.json'), 'utf8')) as { pid1: number };
    process.kill(vm.pid1, 'SIGKILL');
    await exec('ip', ['netns', 'del', netnsName(before.vmCid)]).catch(() => undefined);
    // Withdrawn from app's answers once the director knows the VM is gone, before its replacement runs.
    const withdrawnMs = await untilAnswers(app.ip, [], t0, 30_000);
    const after = await pollUntil(
      async () => {
        const i = await instance('db').catch(() => undefined);
        return i !== undefined && i.vmCid !== before.vmCid ? i : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 250, what: 'db/0 on a new VM' },
    );
    const runningMs = Date.now() - t0;
    note('db VM killed → withdrawn on app', withdrawnMs);
    const answeredMs = await untilAnswers(app.ip, [after.ip], t0, 30_000);
    // The same name, from the same untouched container, reaches redis on the new VM.
    await pollUntil(async () => ((await inClient("printf 'PING\\r\\n' | nc -w 1 redis.db 6379 2>&1; true")).includes('+PONG') ? true : undefined), {
      timeoutMs: 60_000,
      intervalMs: 200,
      what: 'app reaching redis.db on the new VM',
    });
    note('db VM killed → new VM recorded', runningMs);
    note('db VM killed → its address answered on app', answeredMs);
    note('db VM killed → app talks to redis through the name again', Date.now() - t0);
    expect((await instance('app')).vmCid).toBe(app.vmCid);
  }, 180_000);

  it('with the director stopped, names still resolve on app (its VM answers from the last set it was pushed)', async () => {
    const db = await instance('db');
    const app = await instance('app');
    // app's containers ask their VM's address (the resolver the agent gave them).
    expect(await inClient('cat /etc/resolv.conf')).toContain(`nameserver ${app.ip}`);
    await d.kill();
    try {
      expect(await appAnswers(app.ip)).toEqual([db.ip]);
      expect(await appAnswers(app.ip, `cache.client.app.${NAME}.links.bosun`)).toEqual([db.ip]);
      expect(await appAnswers(app.ip, 'cache.internal')).toEqual([db.ip]);
    } finally {
      await d.start();
    }
  }, 60_000);
});
