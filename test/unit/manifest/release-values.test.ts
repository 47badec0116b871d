import { describe, expect, it } from 'vitest';
import { loadManifest, planDeployment } from '../../../src/manifest/index.js';
import { refusalOf } from './refusal-of.js';

/** A v2 manifest with one docker group; `containers` and `docker` are YAML indented for the job properties. */
function v2(containers: string, docker = ''): string {
  return [
    'name: r',
    'instance_groups:',
    '  - name: docker',
    '    instances: 1',
    '    persistent_disk: 1024',
    '    jobs:',
    '      - name: docker',
    `        properties: {${docker}}`,
    '      - name: containers',
    '        properties:',
    '          containers:',
    containers,
  ].join('\n');
}

const first = (text: string, opts = {}) => {
  const loaded = loadManifest(text, opts);
  const inst = planDeployment(loaded.manifest).groups[0]?.instances[0];
  return { loaded, inst, c: inst?.containers[0] };
};

const errorsOf = refusalOf;

describe('values the docker release accepts', () => {
  it('takes cpu_shares, cpu_period, cpu_quota, blkio_weight, memory_swappiness as strings (the spec declares them strings)', () => {
    const { c } = first(
      v2('            - {name: app, image: busybox, cpu_shares: "512", cpu_period: "100000", cpu_quota: "50000", blkio_weight: "300", memory_swappiness: "10", privileged: "false"}'),
    );
    expect(c?.create.HostConfig).toMatchObject({
      CpuShares: 512,
      CpuPeriod: 100000,
      CpuQuota: 50000,
      BlkioWeight: 300,
      MemorySwappiness: 10,
      Privileged: false,
    });
  });

  it('takes restart: on-failure:5 (at most 5 restarts)', () => {
    const { c } = first(v2('            - {name: app, image: busybox, restart: "on-failure:5"}'));
    expect(c?.restartPolicy).toBe('on-failure');
    expect(c?.restartMaxRetries).toBe(5);
  });

  it('takes port ranges in bind_ports and expose_ports', () => {
    const { c } = first(
      v2('            - {name: app, image: busybox, bind_ports: ["8000-8002:9000-9002/udp"], expose_ports: ["7000-7001"]}'),
    );
    expect(c?.create.HostConfig.PortBindings).toEqual({
      '9000/udp': [{ HostIp: '', HostPort: '8000' }],
      '9001/udp': [{ HostIp: '', HostPort: '8001' }],
      '9002/udp': [{ HostIp: '', HostPort: '8002' }],
    });
    expect(Object.keys(c?.create.ExposedPorts ?? {}).sort()).toEqual(['7000/tcp', '7001/tcp', '9000/udp', '9001/udp', '9002/udp']);
  });

  it('refuses overlapping port ranges of two containers, at the entry', () => {
    const err = errorsOf(
      v2('            - {name: a1, image: busybox, bind_ports: ["8000-8010:8000-8010"]}\n            - {name: a2, image: busybox, bind_ports: ["8005:80"]}'),
    );
    expect(err.details.problems).toEqual([
      expect.objectContaining({
        path: 'instance_groups[0].jobs[1].properties.containers[1].bind_ports[0]',
        message: 'host port 8005 is already bound by container "a1" on this VM',
      }),
    ]);
  });

  it('takes env_file as a list of env file texts', () => {
    const { c } = first(v2('            - name: app\n              image: busybox\n              env_file: ["A=1\\nB=2\\n", "C=3\\n"]'));
    expect(c?.create.Env).toEqual(['A=1', 'B=2', 'C=3']);
  });

  it('wraps a bare string where the templates wrap it in an array, and splits on commas where they do (not in env)', () => {
    const { inst } = first(
      v2(
        '            - {name: app, image: busybox, cap_adds: NET_ADMIN, dns: "8.8.8.8,8.8.4.4", env_vars: "LIST=a,b", bind_ports: "80:80,443:443", links: "db:db", volumes_from: db}\n            - {name: db, image: busybox}',
      ),
    );
    const c = inst?.containers.find((x) => x.name === 'app');
    expect(c?.create.HostConfig.CapAdd).toEqual(['NET_ADMIN']);
    expect(c?.create.HostConfig.Dns).toEqual(['8.8.8.8', '8.8.4.4']);
    expect(c?.create.Env).toEqual(['LIST=a,b']);
    expect(Object.keys(c?.create.HostConfig.PortBindings ?? {})).toEqual(['80/tcp', '443/tcp']);
    expect(c?.create.HostConfig.Links).toEqual(['db:db']);
    expect(c?.create.HostConfig.VolumesFrom).toEqual(['db']);
  });

  it('takes hostnames with "_", mac_address and net', () => {
    const { c } = first(v2('            - {name: app, image: busybox, hostname: my_host, mac_address: "02:42:ac:11:00:02", net: host}'));
    expect(c?.create).toMatchObject({ Hostname: 'my_host', MacAddress: '02:42:ac:11:00:02' });
    expect(c?.create.HostConfig.NetworkMode).toBe('host');
  });

  it('maps /var/vcap/store in volumes to the persistent disk (the release mounts it there)', () => {
    const { c } = first(
      v2('            - {name: app, image: busybox, store_dir: /var/vcap/store/sub, volumes: ["/var/vcap/store/shared/conf:/conf:ro", "/var/vcap/store:/all"]}'),
    );
    expect(c?.mounts).toEqual([
      { source: { kind: 'store', path: 'shared/conf' }, target: '/conf', readOnly: true },
      { source: { kind: 'store', path: '' }, target: '/all', readOnly: false },
    ]);
  });

  it('refuses other absolute host paths by default, saying how to allow them; allowed ones are read-only', () => {
    const text = v2('            - {name: app, image: busybox, volumes: ["/etc/ssl/certs:/certs:rw"]}');
    const err = errorsOf(text);
    expect(err.details.problems[0]?.message).toContain('manifest_policy.allowed_host_paths in the director config');
    const { loaded, c } = first(text, { allowedHostPaths: ['/etc/ssl'] });
    expect(c?.mounts).toEqual([{ source: { kind: 'host', path: '/etc/ssl/certs' }, target: '/certs', readOnly: true }]);
    expect(loaded.warnings.map((w) => w.message)).toEqual([expect.stringContaining('is mounted read-only')]);
    expect(errorsOf(text, { allowedHostPaths: ['/etc/ss'] }).details.problems).toHaveLength(1);
  });

  it('warns about keys the release ignores (e.g. tag) instead of refusing them', () => {
    const { loaded } = first(v2('            - {name: app, image: busybox, tag: latest, bind_port: ["80"]}'));
    expect(loaded.warnings.map((w) => `${w.path}: ${w.message}`)).toEqual([
      expect.stringMatching(/containers\[0\]\.tag: "tag" is not a property of the docker release's containers job, which ignores it/),
      expect.stringMatching(/containers\[0\]\.bind_port: .* did you mean "bind_ports"\?/),
    ]);
  });
});

describe('docker job properties', () => {
  it('applies the v2 docker job properties (bare names) instead of dropping them', () => {
    const { loaded, inst } = first(
      v2(
        '            - {name: app, image: busybox}',
        'insecure_registries: [localhost:5000], registry_mirrors: ["https://m.example"], storage_driver: vfs, log_level: debug, mtu: 1400, tcp_address: 0.0.0.0, icc: false, default_ulimits: ["nofile=1024:2048"], env: {http_proxy: "http://p:3128"}',
      ),
    );
    expect(inst?.docker).toMatchObject({
      insecureRegistries: ['localhost:5000'],
      registryMirrors: ['https://m.example'],
      storageDriver: 'vfs',
      mtu: 1400,
      env: { HTTP_PROXY: 'http://p:3128', http_proxy: 'http://p:3128' },
    });
    expect(inst?.docker.extraArgs).toEqual(['--log-level=debug', '--default-ulimit=nofile=1024:2048', '--icc=false']);
    expect(loaded.warnings).toEqual([
      expect.objectContaining({
        path: 'instance_groups[0].jobs[0].properties.tcp_address',
        message: expect.stringContaining('docker job property "tcp_address" is ignored'),
      }),
    ]);
  });

  it('takes v1 docker.* properties with mtu as a string', () => {
    const m = loadManifest(
      'name: r\njobs:\n  - name: d\n    templates: [{name: docker}, {name: containers}]\n    instances: 1\n    properties:\n      docker: {mtu: "1400", dns_servers: 10.0.0.2, vm: {max_map_count: 262144}}\n      containers: []\n',
    );
    expect(m.manifest.instance_groups[0]?.docker).toEqual({ mtu: 1400, dns: ['10.0.0.2'] });
    expect(m.warnings.map((w) => w.path)).toEqual(['jobs[0].properties.docker.vm.max_map_count']);
  });

  it('warns once per place for a deployment-level property read by several groups', () => {
    const loaded = loadManifest(
      [
        'name: r',
        'properties:',
        '  docker: {tcp_address: 0.0.0.0}',
        '  containers:',
        '    - {name: app, image: busybox, timeout: 30}',
        'jobs:',
        '  - {name: a, templates: [{name: docker}, {name: containers}], instances: 1}',
        '  - {name: b, templates: [{name: docker}, {name: containers}], instances: 1}',
      ].join('\n'),
    );
    expect(loaded.warnings.map((w) => w.path)).toEqual(['properties.docker.tcp_address', 'properties.containers[0].timeout']);
    expect(loaded.manifest.instance_groups.map((g) => g.containers.length)).toEqual([1, 1]);
  });
});

describe('errands and groups without the docker jobs', () => {
  it('skips an errand group and a group of other jobs, with a warning each, and copies no global containers onto them', () => {
    const loaded = loadManifest(
      [
        'name: r',
        'properties:',
        '  containers: [{name: app, image: busybox}]',
        'instance_groups:',
        '  - {name: docker, instances: 1, jobs: [{name: docker}, {name: containers}]}',
        '  - {name: only-docker, instances: 1, jobs: [{name: docker}]}',
        '  - {name: manager, instances: 1, jobs: [{name: swarm_manager}]}',
        '  - {name: tests, lifecycle: errand, instances: 1, jobs: [{name: containers}]}',
      ].join('\n'),
    );
    expect(loaded.manifest.instance_groups.map((g) => [g.name, g.containers.length])).toEqual([
      ['docker', 1],
      ['only-docker', 0],
    ]);
    expect(loaded.warnings.map((w) => `${w.path}: ${w.message}`)).toEqual([
      expect.stringMatching(/^instance_groups\[2\]\.name: instance group "manager" runs neither .* it is skipped and gets no VM/),
      expect.stringMatching(/^instance_groups\[3\]\.lifecycle: instance group "tests" is an errand .*no `bosun run-errand`/),
    ]);
  });
});

describe('containers in the wrong job', () => {
  it('are named in a warning, not dropped silently', () => {
    const loaded = loadManifest(
      'name: r\ninstance_groups:\n  - name: d\n    instances: 1\n    jobs:\n      - name: docker\n        properties:\n          containers: [{name: app, image: busybox}]\n',
    );
    expect(loaded.manifest.instance_groups[0]?.containers).toEqual([]);
    expect(loaded.warnings.map((w) => w.path)).toEqual(['instance_groups[0].jobs[0].properties.containers']);
  });
});

describe('containers of a group without the containers job', () => {
  it('are named in a warning (a group runs only the jobs it lists)', () => {
    const loaded = loadManifest(
      'name: r\njobs:\n  - name: d\n    templates: [{name: docker}]\n    instances: 1\n    properties:\n      containers: [{name: app, image: busybox}]\n',
    );
    expect(loaded.manifest.instance_groups[0]?.containers).toEqual([]);
    expect(loaded.warnings.map((w) => w.message)).toEqual([expect.stringContaining('lists no "containers" job')]);
  });
});
