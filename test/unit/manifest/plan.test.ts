import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadManifest, planDeployment, type NativeManifest } from '../../../src/manifest/index.js';
import type { ContainerSpec } from '../../../src/common/contracts/instance-spec.js';

const VALID = join(import.meta.dirname, '../../fixtures/manifests/valid');

function manifest(containers: string, extra = ''): NativeManifest {
  const text = `name: t\n${extra}instance_groups:\n  - name: vm\n    instances: 1\n    persistent_disk: 1024\n    containers:\n${containers}`;
  return loadManifest(text).manifest;
}

function containers(m: NativeManifest): ContainerSpec[] {
  return planDeployment(m).groups[0]?.instances[0]?.containers ?? [];
}

function one(m: NativeManifest, name: string): ContainerSpec {
  const c = containers(m).find((x) => x.name === name);
  if (!c) throw new Error(`no container ${name}`);
  return c;
}

describe('planDeployment', () => {
  const kitchen = loadManifest(readFileSync(join(VALID, 'native-all-keys.yml'), 'utf8')).manifest;
  const db = one(kitchen, 'db');

  it('turns port mappings into PortBindings and ExposedPorts', () => {
    expect(db.create.HostConfig.PortBindings).toEqual({
      '5432/tcp': [{ HostIp: '127.0.0.1', HostPort: '5432' }],
      '5433/udp': [{ HostIp: '', HostPort: '5433' }],
      '9999/tcp': [{ HostIp: '', HostPort: '' }],
    });
    expect(Object.keys(db.create.ExposedPorts ?? {}).sort()).toEqual([
      '5432/tcp',
      '5433/udp',
      '8000/tcp',
      '8001/udp',
      '9999/tcp',
    ]);
  });

  it('gives each bind volume its own sub-directory of the store', () => {
    expect(db.mounts).toEqual([
      {
        source: { kind: 'store', path: 'containers/db/var/lib/postgresql/data' },
        target: '/var/lib/postgresql/data',
        readOnly: false,
      },
      {
        source: { kind: 'store', path: 'containers/db/var/log/postgresql' },
        target: '/var/log/postgresql',
        readOnly: true,
      },
      { source: { kind: 'store', path: 'shared/config' }, target: '/config', readOnly: true },
      { source: { kind: 'store', path: 'containers/db/scratch' }, target: '/scratch', readOnly: false },
    ]);
    expect(new Set(db.mounts.map((m) => m.source.path)).size).toBe(db.mounts.length);
    const app = one(kitchen, 'app');
    expect(app.mounts[0]?.source).toEqual({ kind: 'store', path: 'apps/containers/app/state' });
  });

  it('keeps env values whole: commas, newlines, "=" and "$"', () => {
    const m = manifest(
      `      - name: app1\n        image: busybox:latest\n        env:\n          MULTI: |\n            one, two\n            three\n          DOLLAR: "$HOME"\n        env_vars: ["CSV=a,b,c", "EQ=x=y"]\n`,
    );
    expect(one(m, 'app1').create.Env).toEqual([
      'MULTI=one, two\nthree\n',
      'DOLLAR=$HOME',
      'CSV=a,b,c',
      'EQ=x=y',
    ]);
    expect(db.create.Env).toEqual([
      'DB_PASSWORD=s3cret',
      'MULTI=line one\nline two\n',
      'CSV=a,b,c',
      'FROM_FILE=yes',
    ]);
  });

  it('builds a dockerfile image under a tag that changes with the Dockerfile, keeping "$" literally', () => {
    const dockerfile = 'FROM busybox:latest\nENV GREETING=$HOME\nCMD ["sh", "-c", "echo $GREETING"]\n';
    const block = (df: string, image = 'demo/web'): string =>
      `      - name: web\n        image: ${image}\n        dockerfile: |\n${df
        .split('\n')
        .filter(Boolean)
        .map((l) => `          ${l}`)
        .join('\n')}\n`;
    const a = one(manifest(block(dockerfile)), 'web');
    const hash = createHash('sha256').update(dockerfile).digest('hex');
    expect(a.build).toEqual({ dockerfile, hash });
    expect(a.image).toBe(`demo/web:latest-${hash.slice(0, 12)}`);
    expect(a.build?.dockerfile).toContain('$HOME');
    const b = one(manifest(block(dockerfile.replace('busybox:latest', 'redis:7'))), 'web');
    expect(b.image).not.toBe(a.image);
    expect(b.specHash).not.toBe(a.specHash);
    expect(one(manifest(block(dockerfile, 'demo/web:2')), 'web').image).toBe(
      `demo/web:2-${hash.slice(0, 12)}`,
    );
    expect(one(manifest(block(dockerfile, 'localhost:5000/web')), 'web').image).toBe(
      `localhost:5000/web:latest-${hash.slice(0, 12)}`,
    );
  });

  it('orders containers so that dependencies come first', () => {
    const m = manifest(
      [
        '      - name: web\n        image: busybox:latest\n        depends_on: [api]\n        links: ["cache:c"]',
        '      - name: api\n        image: busybox:latest\n        volumes_from: [db]',
        '      - name: cache\n        image: redis:7',
        '      - name: db\n        image: redis:7\n',
      ].join('\n'),
    );
    const order = containers(m).map((c) => c.name);
    expect(order).toEqual(['cache', 'db', 'api', 'web']);
    expect(one(m, 'web').dependsOn).toEqual(['api', 'cache']);
    expect(one(m, 'web').create.HostConfig.Links).toEqual(['cache:c']);
    expect(one(m, 'api').create.HostConfig.VolumesFrom).toEqual(['db']);
  });

  it('converts healthcheck durations to nanoseconds', () => {
    expect(db.create.Healthcheck).toEqual({
      Test: ['CMD', 'pg_isready'],
      Interval: 10e9,
      Timeout: 500e6,
      Retries: 5,
      StartPeriod: 60e9,
    });
    const m = manifest(
      '      - name: app1\n        image: busybox:latest\n        healthcheck:\n          test: wget -q -O- localhost\n',
    );
    expect(one(m, 'app1').create.Healthcheck).toEqual({
      Test: ['CMD-SHELL', 'wget -q -O- localhost'],
      Interval: 30e9,
      Timeout: 30e9,
      Retries: 3,
      StartPeriod: 0,
    });
  });

  it('converts memory units and resource limits', () => {
    const hc = db.create.HostConfig;
    expect(hc.Memory).toBe(1024 ** 3);
    expect(hc.MemorySwap).toBe(-1);
    expect(hc.MemoryReservation).toBe(512 * 1024 ** 2);
    expect(hc.KernelMemory).toBe(64 * 1024 ** 2);
    expect(hc).toMatchObject({
      MemorySwappiness: 10,
      CpuShares: 512,
      CpuQuota: 50000,
      CpuPeriod: 100000,
      BlkioWeight: 500,
    });
    expect(hc.Ulimits).toEqual([
      { Name: 'nofile', Soft: 1024, Hard: 2048 },
      { Name: 'nproc', Soft: 512, Hard: 1024 },
    ]);
    expect(hc.Devices).toEqual([
      { PathOnHost: '/dev/fuse', PathInContainer: '/dev/fuse', CgroupPermissions: 'rwm' },
      { PathOnHost: '/dev/sda', PathInContainer: '/dev/xvda', CgroupPermissions: 'r' },
    ]);
    expect(hc.GroupAdd).toEqual(['staff', '50']);
    expect(hc.LogConfig).toEqual({ Type: 'json-file', Config: { 'max-size': '5m' } });
    expect(hc.RestartPolicy).toEqual({ Name: 'no' });
    expect(db.create).toMatchObject({
      Cmd: ['postgres', '-c', 'max_connections=100'],
      Entrypoint: ['docker-entrypoint.sh'],
      User: '999',
      StopSignal: 'SIGINT',
      StopTimeout: 30,
      Labels: { tier: 'data' },
    });
    expect(db.restartPolicy).toBe('on-failure');
  });

  it('splits command strings like a shell, without expansion', () => {
    const m = manifest(
      `      - name: app1\n        image: busybox:latest\n        command: "sh -c 'echo $HOME, done' \\"two words\\""\n`,
    );
    expect(one(m, 'app1').create.Cmd).toEqual(['sh', '-c', 'echo $HOME, done', 'two words']);
  });

  it('resolves update policy numbers and max_in_flight per group size', () => {
    const plan = planDeployment(kitchen);
    expect(plan.update).toEqual({
      canaries: 2,
      maxInFlight: { kind: 'percent', percent: 25 },
      canaryWatchTime: { minMs: 5000, maxMs: 5000 },
      updateWatchTime: { minMs: 1000, maxMs: 20000 },
      serial: true,
    });
    expect(plan.groups[0]).toMatchObject({
      name: 'data',
      instanceCount: 4,
      maxInFlight: 1,
      persistentDiskMiB: 2048,
      persistentDiskCloudProperties: { type: 'ssd' },
      vmType: 'large',
      cloudProperties: { cpus: 2 },
    });
    expect(plan.groups[0]?.networks).toEqual([
      { name: 'default', staticIps: [], default: ['dns', 'gateway'] },
    ]);
    expect(plan.groups[0]?.instances[0]?.docker).toMatchObject({
      storageDriver: 'overlay2',
      mtu: 1450,
      liveRestore: true,
      labels: ['env=test'],
      logOptions: { 'max-size': '10m' },
    });
    const half = manifest(
      '      - name: app1\n        image: busybox:latest\n',
      'update: {max_in_flight: "50%"}\n',
    );
    expect(
      planDeployment({ ...half, instance_groups: [{ ...half.instance_groups[0]!, instances: 5 }] }).groups[0]
        ?.maxInFlight,
    ).toBe(2);
  });

  it("uses the caller's instance ids and hashes specs deterministically", () => {
    const ids = planDeployment(kitchen, { instanceId: (g, i) => `uuid-${g}-${i}` }).groups[0]?.instances.map(
      (i) => i.instanceId,
    );
    expect(ids).toEqual(['uuid-data-0', 'uuid-data-1', 'uuid-data-2', 'uuid-data-3']);
    const a = planDeployment(kitchen).groups[0]?.instances[0];
    const b = planDeployment(structuredClone(kitchen)).groups[0]?.instances[0];
    expect(a?.specHash).toMatch(/^[0-9a-f]{64}$/);
    expect(a?.specHash).toBe(b?.specHash);
    const changed = structuredClone(kitchen);
    changed.instance_groups[0]!.containers[0]!.memory = '2g';
    const c = planDeployment(changed).groups[0]?.instances[0];
    expect(c?.specHash).not.toBe(a?.specHash);
    expect(c?.containers.find((x) => x.name === 'db')?.specHash).not.toBe(
      a?.containers.find((x) => x.name === 'db')?.specHash,
    );
    expect(c?.containers.find((x) => x.name === 'app')?.specHash).toBe(
      a?.containers.find((x) => x.name === 'app')?.specHash,
    );
  });
});
