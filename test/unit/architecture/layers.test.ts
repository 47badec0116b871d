import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The layers of docs/architecture.md: a file may import its own part and the parts below it,
 * never a part above it or beside it. Every arrow points down.
 */
const LAYER: Record<string, number> = {
  common: 0,
  manifest: 1,
  registry: 1,
  stemcell: 1,
  agent: 2,
  cloud: 3,
  store: 4,
  director: 5,
  cli: 6,
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

describe('layers', () => {
  it('every import points down: common ← manifest/registry/stemcell ← agent ← cloud ← store ← director ← cli', () => {
    const wrong: string[] = [];
    for (const file of sourceFiles('src')) {
      const part = relative('src', file).split('/')[0] ?? '';
      const own = LAYER[part];
      if (own === undefined) continue;
      for (const m of readFileSync(file, 'utf8').matchAll(/from '(\.[^']+)'/g)) {
        const target = relative('src', normalize(join(dirname(file), m[1] ?? ''))).split('/')[0] ?? '';
        const theirs = LAYER[target];
        if (theirs === undefined || target === part) continue;
        if (theirs >= own) wrong.push(`${file} imports ${m[1]} (${part} → ${target})`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('dockerode is imported only by the agent\'s Docker engine adapter', () => {
    const users = sourceFiles('src').filter((f) => /from 'dockerode'/.test(readFileSync(f, 'utf8')));
    expect(users.every((f) => f.startsWith('src/agent/docker-engine/'))).toBe(true);
  });

  it('the deployer uses the disk operations, never the other way round (deploy → disks)', () => {
    const back = sourceFiles('src/director/disks').filter((f) => /from '\.\.\/deploy\//.test(readFileSync(f, 'utf8')));
    expect(back).toEqual([]);
  });

  it('sleeps and timeouts are written once, in src/common/waiting.ts', () => {
    const own = sourceFiles('src').filter(
      (f) => f !== 'src/common/waiting.ts' && /function (sleep|withTimeout)\b/.test(readFileSync(f, 'utf8')),
    );
    expect(own).toEqual([]);
  });

  it('outbound HTTP goes through src/common/http/https-client.ts (no own node:https or fetch clients)', () => {
    const own = sourceFiles('src').filter((f) =>
      /from 'node:https'|(^|[^.\w])fetch\(/m.test(readFileSync(f, 'utf8')),
    );
    expect(own.filter((f) => !SERVERS.includes(f))).toEqual([]);
  });
});

/** They import node:https to serve (and the registry's front to proxy to its backend socket). */
const SERVERS = [
  'src/director/api/server.ts',
  'src/registry/registry-front.ts',
  // cpi-certify's stand-in for the director's heartbeat route.
  'src/director/cpi-certify/heartbeat-listener.ts',
  // The agent's metadata-service settings source (plain http to a link-local address, stemcell work): to move onto the shared client.
  'src/agent/settings/http-source.ts',
];
