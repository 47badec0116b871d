import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BENCHMARK_IMAGES, prepareBenchmark } from '../../../bench/prepare.js';

describe('benchmarks prepare what they need', () => {
  let imagesDir: string;
  beforeEach(async () => {
    imagesDir = await mkdtemp(join(tmpdir(), 'bosun-bench-images-'));
  });
  afterEach(async () => {
    await rm(imagesDir, { recursive: true, force: true });
  });

  it('names the images of every benchmark main.ts runs', () => {
    for (const name of ['vm', 'deploy', 'recovery', 'resurrect', 'resize', 'dns']) expect(BENCHMARK_IMAGES[name]?.length).toBeGreaterThan(0);
  });

  it('builds the images when one is missing, and not when they are there', async () => {
    let builds = 0;
    const buildImages = async () => {
      builds++;
      await writeFile(join(imagesDir, 'busybox.tar'), 'x');
      return 0;
    };
    const lines: string[] = [];
    await prepareBenchmark('vm', { imagesDir, buildImages, say: (l) => lines.push(l) });
    expect(builds).toBe(1);
    expect(lines.join('\n')).toMatch(/build\/images\/busybox\.tar missing; building it with scripts\/build-images\.sh/);
    await prepareBenchmark('vm', { imagesDir, buildImages, say: () => undefined });
    expect(builds).toBe(1);
  });

  it('says in one line what to run when the build fails', async () => {
    const err = await prepareBenchmark('resurrect', { imagesDir, buildImages: async () => 100, say: () => undefined }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    const message = (err as Error).message;
    expect(message).not.toContain('\n');
    expect(message).toMatch(/needs build\/images\/redis\.tar.*run `bash scripts\/build-images\.sh`.*`npm run bench -- resurrect`/);
  });
});
