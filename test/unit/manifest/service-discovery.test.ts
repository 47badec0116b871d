import { describe, expect, it } from 'vitest';
import { dnsAliasesOf, loadManifest, planDeployment } from '../../../src/manifest/index.js';
import { refusalOf } from './refusal-of.js';

const base = (app: string, top = ''): string => `name: prod
${top}instance_groups:
  - name: db
    instances: 2
    containers:
      - name: redis
        image: redis:7
        bind_ports: ["6379:6379", "16379:16379/udp"]
  - name: app
    instances: 1
    containers:
      - name: web
        image: busybox
${app}`;

const WEB_LINKS = (links: string, env = ''): string => `        links: ${links}\n${env}`;

describe('manifest: cross-VM links', () => {
  it('gives the container Docker-link variables with the DNS name as address, and the link alias record', () => {
    const loaded = loadManifest(base(WEB_LINKS('["db/redis:cache"]')));
    const web = planDeployment(loaded.manifest).groups[1]?.instances[0]?.containers[0];
    const env = web?.create.Env ?? [];
    expect(env).toEqual(
      expect.arrayContaining([
        'CACHE_PORT=tcp://redis.db.prod.bosun:6379',
        'CACHE_PORT_6379_TCP=tcp://redis.db.prod.bosun:6379',
        'CACHE_PORT_6379_TCP_ADDR=redis.db.prod.bosun',
        'CACHE_PORT_6379_TCP_PORT=6379',
        'CACHE_PORT_6379_TCP_PROTO=tcp',
        'CACHE_PORT_16379_UDP=udp://redis.db.prod.bosun:16379',
        'CACHE_PORT_16379_UDP_PROTO=udp',
      ]),
    );
    // Not a Docker link and not a start-order dependency: it lives on another VM.
    expect(web?.create.HostConfig.Links).toBeUndefined();
    expect(web?.dependsOn).toEqual([]);
    expect(dnsAliasesOf(loaded.manifest)).toEqual([{ name: 'cache.web.app.prod.links.bosun', target: 'redis.db.prod.bosun' }]);
  });

  it('names the variables after the container without an alias, keeps same-VM links as Docker links, and lets the own env win', () => {
    const loaded = loadManifest(
      base(`        links: ["db/redis"]\n        env: {REDIS_PORT: "custom"}\n      - name: side\n        image: busybox\n        links: ["web:w"]\n`),
    );
    const [web, side] = planDeployment(loaded.manifest).groups[1]?.instances[0]?.containers ?? [];
    expect(web?.create.Env).toContain('REDIS_PORT_6379_TCP_ADDR=redis.db.prod.bosun');
    expect(web?.create.Env).toContain('REDIS_PORT=custom');
    expect(web?.create.Env).not.toContain('REDIS_PORT=tcp://redis.db.prod.bosun:6379');
    expect(side?.create.HostConfig.Links).toEqual(['web:w']);
    expect(dnsAliasesOf(loaded.manifest)).toEqual([{ name: 'redis.web.app.prod.links.bosun', target: 'redis.db.prod.bosun' }]);
  });

  it('refuses a link to a group or container that does not exist, with its place', () => {
    const err = refusalOf(base(WEB_LINKS('["dbx/redis", "db/redix:cache", "db/redis:a.b", "app/web"]')));
    const problems = err.details.problems.map((p) => `${p.path} (line ${p.line}): ${p.message}`);
    expect(problems).toEqual([
      expect.stringMatching(/^instance_groups\[1\]\.containers\[0\]\.links\[0\] \(line 14\): link "dbx\/redis" names instance group "dbx", which this deployment does not have \("db", "app"\)/),
      expect.stringMatching(/links\[1\] \(line 14\): link "db\/redix:cache" names container "redix", which instance group "db" does not have \("redis"\)/),
      expect.stringMatching(/links\[2\] .*the link alias "a.b" of "db\/redis:a.b" is not a DNS label/),
      expect.stringMatching(/links\[3\] .*names this container itself/),
    ]);
  });

  it('refuses two links with the same alias and warns about a target without bind_ports', () => {
    const err = refusalOf(base(WEB_LINKS('["db/redis:x", "app/side:y", "app/side:x"]') + '      - name: side\n        image: busybox\n'));
    expect(err.details.problems.map((p) => p.message)).toEqual([
      expect.stringMatching(/binds no host port/),
      expect.stringMatching(/link alias "x" is used twice/),
    ]);
  });

  it('accepts the same links in a docker BOSH release manifest (properties.containers)', () => {
    const text = `name: prod
instance_groups:
  - name: db
    instances: 1
    jobs: [{name: docker}, {name: containers}]
    properties:
      containers:
        - {name: redis, image: "redis:7", bind_ports: ["6379:6379"]}
  - name: app
    instances: 1
    jobs: [{name: docker}, {name: containers}]
    properties:
      containers:
        - {name: web, image: busybox, links: ["db/redis:cache"]}
dns_aliases: {db.internal: redis.db}
`;
    const loaded = loadManifest(text);
    expect(loaded.format).toBe('bosh-release-v2');
    expect(planDeployment(loaded.manifest).groups[1]?.instances[0]?.containers[0]?.create.Env).toContain('CACHE_PORT=tcp://redis.db.prod.bosun:6379');
    expect(dnsAliasesOf(loaded.manifest)).toEqual([
      { name: 'db.internal', target: 'redis.db.prod.bosun' },
      { name: 'cache.web.app.prod.links.bosun', target: 'redis.db.prod.bosun' },
    ]);
  });
});

describe('manifest: dns_aliases', () => {
  it('resolves targets written in full or relative to the deployment, per-instance names and other aliases', () => {
    const loaded = loadManifest(
      base('', 'dns_aliases:\n  db.internal: redis.db.prod.bosun\n  primary.db.internal: 0.redis.db\n  all.internal: app\n  again.internal: DB.Internal\n'),
    );
    expect(dnsAliasesOf(loaded.manifest)).toEqual([
      { name: 'db.internal', target: 'redis.db.prod.bosun' },
      { name: 'primary.db.internal', target: '0.redis.db.prod.bosun' },
      { name: 'all.internal', target: 'app.prod.bosun' },
      { name: 'again.internal', target: 'db.internal' },
    ]);
  });

  it('refuses bad alias names, unknown targets, an instance index out of range, names of instances and cycles, each at its place', () => {
    const err = refusalOf(
      base('', 'dns_aliases:\n  single: redis.db\n  x.internal: nothing.db\n  y.internal: 2.redis.db\n  redis.db.prod.bosun: app\n  a.internal: b.internal\n  b.internal: a.internal\n  bad_label-.x: app\n'),
    );
    const problems = err.details.problems.map((p) => `${p.path} (line ${p.line}): ${p.message}`);
    expect(problems).toEqual([
      expect.stringMatching(/^dns_aliases\.single \(line 3\): the alias "single" has one label only/),
      expect.stringMatching(/^dns_aliases\["x.internal"\] \(line 4\): alias "x.internal" points at "nothing.db", which is no name of deployment "prod"/),
      expect.stringMatching(/^dns_aliases\["y.internal"\] \(line 5\): alias "y.internal" points at "2.redis.db"/),
      expect.stringMatching(/^dns_aliases\["redis.db.prod.bosun"\] \(line 6\): .*already a name of this deployment/),
      expect.stringMatching(/^dns_aliases\["a.internal"\] \(line 7\): dns_aliases form a cycle: a.internal -> b.internal -> a.internal/),
      expect.stringMatching(/^dns_aliases\["bad_label-.x"\] \(line 9\): the alias "bad_label-.x" is not a DNS name/),
    ]);
  });

  it('shows a change of dns_aliases in the diff', async () => {
    const { diffManifests } = await import('../../../src/manifest/index.js');
    const before = loadManifest(base('', 'dns_aliases: {db.internal: redis.db}\n')).manifest;
    const after = loadManifest(base('', 'dns_aliases: {db.internal: 1.redis.db}\n')).manifest;
    expect(diffManifests(before, after).text).toContain('dns_aliases changed: db.internal');
  });
});
