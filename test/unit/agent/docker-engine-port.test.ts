import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const files = (dir: string): string[] =>
  readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });

describe('the Docker engine port', () => {
  it('dockerode is imported only from src/agent/docker-engine/', () => {
    const importers = files('src')
      .filter((f) => /from ['"]dockerode['"]/.test(readFileSync(f, 'utf8')))
      .map((f) => relative('src', f));
    expect(importers.length).toBeGreaterThan(0);
    expect(importers.filter((f) => !f.startsWith('agent/docker-engine/'))).toEqual([]);
  });
});
