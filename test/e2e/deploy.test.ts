import { execFile, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import type { DiskInfo, InstanceInfo, RunCommandResponse, TaskInfo } from '../../src/common/contracts/api.js';
import { builtCli, startDirectorFixture, type DirectorFixture } from '../helpers/director-fixture.js';
import { recordedPid1, vmProcesses } from '../helpers/in-vm.js';
import { redisCommand } from '../helpers/redis-resp.js';

const execFileAsync = promisify(execFile);
const NAME = 'e2e-deploy';
const GROUP = 'docker-vm-1';

interface Manifest {
  name: string;
  update: Record<string, unknown>;
  instance_groups: Array<{
    name: string;
    instances: number;
    containers: Array<{ name: string; image: string; env?: Record<string, string>; stop_timeout?: number }>;
  }>;
}

/**
 * `bosun deploy` end to end on the real local cloud (namespaces, dockerd, loop disks), one
 * deployment of examples/demo.yml shared by the cases, which run in order.
 */
describe('bosun deploy on the local cloud (needs root and `npm run build`)', () => {
  let d: DirectorFixture;
  let base: Manifest;
  let manifestCount = 0;
  /** Every VM cid seen, to prove at the end that none of them left anything behind. */
  const vmCids = new Set<string>();

  const writeManifest = async (edit: (m: Manifest) => void = () => undefined): Promise<string> => {
    const m = structuredClone(base);
    edit(m);
    const file = join(d.fx.dataDir, `manifest-${++manifestCount}.yml`);
    await writeFile(file, stringify(m));
    return file;
  };
  const group = (m: Manifest) => {
    const g = m.instance_groups[0];
    if (!g) throw new Error('the demo manifest has no instance group');
    return g;
  };
  const deploy = async (file: string) => d.cli('-d', NAME, 'deploy', file, '-n');
  const expectOk = (r: { code: number; stdout: string; stderr: string }) =>
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);

  const instances = async (): Promise<InstanceInfo[]> => {
    const list = await d.json<InstanceInfo[]>('-d', NAME, 'instances', '--ps');
    for (const i of list) if (i.vmCid) vmCids.add(i.vmCid);
    return list.sort((a, b) => a.index - b.index);
  };
  const instance0 = async (): Promise<InstanceInfo> => {
    const i = (await instances()).find((x) => x.group === GROUP && x.index === 0);
    if (!i?.ip) throw new Error('instance docker-vm-1/0 has no address');
    return i;
  };
  /** docker container name → id on the VM, read with `bosun ssh`. */
  const containerIds = async (index = 0): Promise<Record<string, string>> => {
    const r = await d.json<RunCommandResponse>(
      '-d',
      NAME,
      'ssh',
      `${GROUP}/${index}`,
      '-c',
      "docker ps --no-trunc --format '{{.ID}} {{.Names}}'",
    );
    expect(r.exitCode, r.stderr).toBe(0);
    const ids: Record<string, string> = {};
    for (const line of r.stdout.trim().split('\n').filter(Boolean)) {
      const [id = '', names = ''] = line.split(' ');
      // Names lists link aliases too ("redis,web/db"): the container's own name has no slash.
      const own = names.split(',').find((n) => !n.includes('/'));
      if (own) ids[own] = id;
    }
    return ids;
  };
  const idOf = (ids: Record<string, string>, container: string): string => {
    const id = ids[container];
    if (!id) throw new Error(`no docker container "${container}" in ${JSON.stringify(ids)}`);
    return id;
  };
  const redis = async (args: string[]) => redisCommand((await instance0()).ip as string, 6379, args, 5000);

  beforeAll(async () => {
    base = parse(await readFile(new URL('../../examples/demo.yml', import.meta.url), 'utf8')) as Manifest;
    base.name = NAME;
    // busybox httpd as PID 1 ignores SIGTERM: without a short stop timeout every stop of the
    // instance waits Docker's 10 s per container, which only slows the file down.
    for (const c of group(base).containers) if (c.name !== 'redis') c.stop_timeout = 1;
    d = await startDirectorFixture({ images: ['busybox', 'redis'] });
  }, 180_000);

  afterAll(async () => {
    await d?.cleanup();
  }, 120_000);

  it('deploys the demo: every container runs and Redis answers on its published port', async () => {
    const r = await deploy(await writeManifest());
    expectOk(r);
    expect(r.stdout).toContain('running as desired');
    const [i] = await instances();
    expect(i?.state).toBe('running');
    expect(i?.containers?.map((c) => c.name).sort()).toEqual(['notes', 'redis', 'web']);
    expect(i?.containers?.every((c) => c.state === 'running')).toBe(true);
    expect(await redis(['SET', 'e2e-key', 'kept'])).toBe('OK');
  });

  it('redeploys an unchanged manifest without touching a container', async () => {
    const before = await containerIds();
    const vmBefore = (await instance0()).vmCid;
    const r = await deploy(await writeManifest());
    expectOk(r);
    expect(await containerIds()).toEqual(before);
    expect((await instance0()).vmCid).toBe(vmBefore);
  });

  it('replaces only the container whose env changed, and keeps its data', async () => {
    const bootsUrl = `http://${(await instance0()).ip}:8081/boots.txt`;
    const bootsBefore = (await (await fetch(bootsUrl)).text()).trim().split('\n').length;
    const before = await containerIds();
    expectOk(
      await deploy(
        await writeManifest((m) => {
          const notes = group(m).containers.find((c) => c.name === 'notes');
          if (notes) notes.env = { NOTE: 'changed' };
          base = m;
        }),
      ),
    );
    const after = await containerIds();
    expect(idOf(after, 'notes')).not.toBe(idOf(before, 'notes'));
    expect(idOf(after, 'redis')).toBe(idOf(before, 'redis'));
    expect(idOf(after, 'web')).toBe(idOf(before, 'web'));
    // notes appends a line per start to its bind volume on the persistent disk.
    expect((await (await fetch(bootsUrl)).text()).trim().split('\n').length).toBe(bootsBefore + 1);
  });

  it('re-creates the containers linked to a replaced one (Docker links bind to the container)', async () => {
    const before = await containerIds();
    expectOk(
      await deploy(
        await writeManifest((m) => {
          const redisSpec = group(m).containers.find((c) => c.name === 'redis');
          if (redisSpec) redisSpec.env = { EXAMPLE_VAR: '2' };
          base = m;
        }),
      ),
    );
    const after = await containerIds();
    expect(idOf(after, 'redis')).not.toBe(idOf(before, 'redis'));
    expect(idOf(after, 'web')).not.toBe(idOf(before, 'web'));
    expect(idOf(after, 'notes')).toBe(idOf(before, 'notes'));
    expect(await redis(['GET', 'e2e-key'])).toBe('kept');
  });

  it('scales to two instances and back; the second instance disk is orphaned', async () => {
    expectOk(await deploy(await writeManifest((m) => (group(m).instances = 2))));
    const two = await instances();
    expect(two.map((i) => [i.index, i.state])).toEqual([
      [0, 'running'],
      [1, 'running'],
    ]);
    const secondDisk = two[1]?.diskCids[0];
    expect(secondDisk).toMatch(/^disk-/);

    expectOk(await deploy(await writeManifest()));
    expect((await instances()).map((i) => i.index)).toEqual([0]);
    const orphaned = await d.json<DiskInfo[]>('disks', '--orphaned');
    expect(orphaned.map((x) => x.diskCid)).toContain(secondDisk);
    expect(await redis(['GET', 'e2e-key'])).toBe('kept');
  });

  it('stops, starts, restarts and recreates the instance; the data survives the new VM', async () => {
    expectOk(await d.cli('-d', NAME, 'stop', `${GROUP}/0`, '-n'));
    const stopped = await instance0();
    expect(stopped.desired).toBe('stopped');
    expect(stopped.containers?.every((c) => c.state !== 'running')).toBe(true);
    await expect(redis(['PING'])).rejects.toThrow();

    expectOk(await d.cli('-d', NAME, 'start', `${GROUP}/0`, '-n'));
    expect((await instance0()).state).toBe('running');
    expect(await redis(['GET', 'e2e-key'])).toBe('kept');

    const beforeRestart = await containerIds();
    expectOk(await d.cli('-d', NAME, 'restart', `${GROUP}/0`, '-n'));
    const restarted = await instance0();
    expect(restarted.state).toBe('running');
    expect(Object.keys(await containerIds()).sort()).toEqual(Object.keys(beforeRestart).sort());

    const vmBefore = restarted.vmCid;
    expectOk(await d.cli('-d', NAME, 'recreate', `${GROUP}/0`, '-n'));
    const recreated = await instance0();
    expect(recreated.state).toBe('running');
    expect(recreated.vmCid).not.toBe(vmBefore);
    expect(recreated.diskCids).toEqual(restarted.diskCids);
    expect(await redis(['GET', 'e2e-key'])).toBe('kept');
  });

  it('fails the canary on a bad image with an error naming the instance, container and image', async () => {
    const bad = await writeManifest((m) => {
      const notes = group(m).containers.find((c) => c.name === 'notes');
      if (notes) notes.image = 'busybox:no-such-tag';
    });
    const r = await deploy(bad);
    expect(r.code).toBe(1);
    const out = `${r.stdout}\n${r.stderr}`;
    expect(out).toContain(`${GROUP}/0`);
    expect(out).toContain('notes');
    expect(out).toContain('busybox:no-such-tag');
    const [task] = await d.json<TaskInfo[]>('tasks', '--recent', '1');
    expect(task?.state).toBe('error');
  });

  it('converges after the director is killed during a deploy, leaking nothing', async () => {
    const file = await writeManifest((m) => (group(m).instances = 2));
    const [last] = await d.json<TaskInfo[]>('tasks', '--recent', '1');
    // A separate process, so that killing the director does not disturb this process's CLI runs.
    const child = spawn(process.execPath, [builtCli, '-d', NAME, 'deploy', file, '-n'], {
      env: { PATH: process.env['PATH'], BOSUN_CONFIG: join(d.fx.dataDir, 'cli-config') },
      stdio: 'ignore',
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    // Kill it once the new instance's VM exists (mid-task: the VM is being created or set up).
    let interrupted: TaskInfo | undefined;
    for (let i = 0; i < 300 && !interrupted; i++) {
      await new Promise((r) => setTimeout(r, 100));
      const [t] = await d.json<TaskInfo[]>('tasks', '--recent', '1');
      const vms = existsSync(join(d.cloudDir, 'vms')) ? readdirSync(join(d.cloudDir, 'vms')) : [];
      if (t && t.id !== last?.id && t.state === 'processing' && vms.length >= 2) interrupted = t;
    }
    expect(interrupted, 'the deploy task never reached the VM creation of the new instance').toBeDefined();
    await d.kill();
    expect(await exited).not.toBe(0);

    await d.start();
    const task = await d.json<TaskInfo>('task', String(interrupted?.id));
    expect(task.state).toBe('error');
    expect(task.error).toMatch(/restarted/i);

    expectOk(await deploy(file));
    const list = await instances();
    expect(list.map((i) => [i.index, i.state])).toEqual([
      [0, 'running'],
      [1, 'running'],
    ]);
    // No VM of the cloud that no instance owns (the one created before the crash is reused or deleted).
    expect(readdirSync(join(d.cloudDir, 'vms')).sort()).toEqual(list.map((i) => i.vmCid).sort());
    expect(await redis(['GET', 'e2e-key'])).toBe('kept');
  });

  it("logs the registry's normal 404 probes at debug, not as warnings", async () => {
    const probes = (await d.log()).split('\n').filter((l) => l.includes('blob unknown'));
    // Uploads and pulls always probe for blobs first: the lines exist, at debug (pino level 20).
    expect(probes.length).toBeGreaterThan(0);
    expect(probes.filter((l) => !l.includes('"level":20'))).toEqual([]);
  });

  it('deletes the deployment: no namespace, loop device, mount or process left; disks orphaned', async () => {
    const list = await instances();
    const disks = list.flatMap((i) => i.diskCids);
    expect(disks.length).toBe(2);
    // Every process of the VMs (PID 1, agent, dockerd, containerd, shims), by their PID namespaces.
    const vmPids: number[] = [];
    for (const i of list) {
      const pid1 = i.vmCid ? await recordedPid1(join(d.cloudDir, 'vms', i.vmCid)) : null;
      if (pid1 !== null) vmPids.push(...(await vmProcesses(pid1)));
    }
    expect(vmPids.length).toBeGreaterThan(4);
    expectOk(await d.cli('-d', NAME, 'delete-deployment', '-n'));
    expect(await d.json<unknown[]>('deployments')).toEqual([]);
    const orphaned = (await d.json<DiskInfo[]>('disks', '--orphaned')).map((x) => x.diskCid);
    for (const disk of disks) expect(orphaned).toContain(disk);

    expect(readdirSync(join(d.cloudDir, 'vms'))).toEqual([]);
    const { stdout: netns } = await execFileAsync('ip', ['netns', 'list']);
    const { stdout: loops } = await execFileAsync('losetup', ['-a']);
    const mounts = readFileSync('/proc/self/mounts', 'utf8');
    for (const cid of vmCids) {
      expect(netns).not.toContain(`bosun-${cid}`);
      expect(existsSync(`/sys/fs/cgroup/bosun-${cid}`)).toBe(false);
    }
    expect(loops).not.toContain(d.cloudDir);
    expect(mounts).not.toContain(d.cloudDir);
    // No process of a VM (agent, dockerd, containerd, containers) still mentions the cloud's dir.
    const leftovers: string[] = [];
    for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
      const cmdline = (() => {
        try {
          return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
        } catch {
          return '';
        }
      })();
      if (cmdline.includes(join(d.cloudDir, 'vms'))) leftovers.push(`${pid}: ${cmdline}`);
    }
    expect(leftovers).toEqual([]);
    const alive = (pid: number): boolean => {
      try {
        return !/ Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
      } catch {
        return false;
      }
    };
    expect(vmPids.filter(alive)).toEqual([]);
  });
});
