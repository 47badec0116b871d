/**
 * What the release's job templates make of each property (its `docker run` options), compared with
 * bosun's plan for the same manifest. Where bosun deliberately differs, the test says so.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadManifest, planDeployment } from '../../../src/manifest/index.js';

const DIR = join(import.meta.dirname, '../../fixtures/manifests/release');
const planOf = (f: string) => planDeployment(loadManifest(readFileSync(join(DIR, f), 'utf8')).manifest);

describe('the release example (v36 manifests/containers/example.yml) as the templates run it', () => {
  const inst = planOf('v36-containers-example.yml').groups[0]?.instances[0];
  const byName = (n: string) => inst?.containers.find((c) => c.name === n);

  it('redis: --entrypoint=redis-server, command after the image, --publish, --memory, --env', () => {
    const redis = byName('redis');
    expect(redis?.create.Entrypoint).toEqual(['redis-server']);
    // xargs splits the command on blanks; bosun splits it like a shell, without expansion.
    expect(redis?.create.Cmd).toEqual(['--dir', '/var/lib/redis/', '--appendonly', 'yes']);
    expect(redis?.create.HostConfig.PortBindings).toEqual({ '6379/tcp': [{ HostIp: '', HostPort: '6379' }] });
    expect(redis?.create.HostConfig.Memory).toBe(256 * 1024 * 1024);
    expect(redis?.create.Env).toEqual(['EXAMPLE_VAR=1']);
    // The release: --volume=/var/vcap/store/containers/redis:/var/lib/redis. bosun: one sub-directory per path.
    expect(redis?.mounts).toEqual([
      { source: { kind: 'store', path: 'containers/redis/var/lib/redis' }, target: '/var/lib/redis', readOnly: false },
    ]);
  });

  it('elasticsearch: --link=mysql:db, monit depends on mysql, built from its dockerfile with "$" kept', () => {
    const es = byName('elasticsearch');
    expect(es?.create.HostConfig.Links).toEqual(['mysql:db']);
    expect(es?.dependsOn).toEqual(['mysql']);
    expect(inst?.containers.map((c) => c.name).indexOf('mysql')).toBeLessThan(
      inst?.containers.map((c) => c.name).indexOf('elasticsearch') ?? -1,
    );
    expect(es?.build?.dockerfile).toContain('FROM java:7');
    // The release tags the build "bosh/elasticsearch" and never rebuilds it; bosun tags it by content.
    expect(es?.image).toMatch(/^bosh\/elasticsearch:latest-[0-9a-f]{12}$/);
    expect(Object.keys(es?.create.HostConfig.PortBindings ?? {})).toEqual(['9200/tcp', '9300/tcp']);
  });
});

describe('every kind of property (rules-v2-properties.yml)', () => {
  const plan = planOf('rules-v2-properties.yml');
  const own = plan.groups.find((g) => g.name === 'own-properties')?.instances[0];

  it('keeps env values whole: commas and newlines (the release split them: its issues 121 and 137)', () => {
    expect(own?.containers.find((c) => c.name === 'app')?.create.Env).toEqual(['MULTI=line one\nline two']);
  });

  it('maps restart, stop_signal, ulimits, labels, memory_swap -1 and a command list', () => {
    const app = own?.containers.find((c) => c.name === 'app');
    expect(app?.restartPolicy).toBe('no');
    expect(app?.create.StopSignal).toBe('SIGINT');
    expect(app?.create.HostConfig.Ulimits).toEqual([{ Name: 'nofile', Soft: 1024, Hard: 2048 }]);
    expect(app?.create.Labels).toEqual({ team: 'core' });
    expect(app?.create.Cmd).toEqual(['-c', 'echo "$HOME" && sleep 3600']);
    expect(app?.create.Entrypoint).toEqual(['/bin/sh']);
    expect(app?.create.HostConfig.Links).toEqual(['cache:cache']);
    expect(own?.containers.find((c) => c.name === 'cache')?.create.HostConfig.MemorySwap).toBe(-1);
  });

  it('maps the docker job: mirrors, insecure registries, log driver and options, mtu, dns, log level, ipv6, CA certificates', () => {
    expect(own?.docker).toEqual({
      insecureRegistries: ['registry.example:5000'],
      registryMirrors: ['https://mirror.example'],
      logDriver: 'json-file',
      logOptions: { 'max-size': '10m', 'max-file': '3' },
      dns: ['10.0.0.2'],
      mtu: 1400,
      labels: [],
      debug: false,
      liveRestore: false,
      extraArgs: ['--log-level=warn', '--ipv6=false'],
      registryCaCerts: [
        { domain: 'registry.example:5000', caCert: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n' },
      ],
    });
  });

  it('gives deployment-level properties to the jobs that read them, and containers only to groups with the containers job', () => {
    expect(plan.groups.map((g) => [g.name, g.instances[0]?.containers.map((c) => c.name), g.instances[0]?.docker.storageDriver])).toEqual([
      ['from-deployment', ['redis'], 'overlay2'],
      ['from-group', ['memcached'], 'overlay2'],
      ['own-properties', ['cache', 'app'], undefined],
      ['docker-only', [], 'overlay2'],
    ]);
  });
});
