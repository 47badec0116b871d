import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';

/**
 * What each benchmark needs before it can run, and getting it: the test images under
 * build/images (built by scripts/build-images.sh from the Debian archive, no Docker needed).
 * A benchmark on a fresh checkout builds them first instead of failing on a missing tarball.
 */
export const BENCHMARK_IMAGES: Record<string, string[]> = {
  vm: ['busybox'],
  deploy: ['busybox'],
  recovery: ['busybox'],
  resurrect: ['redis'],
  resize: ['redis'],
  dns: ['busybox'],
};

/** The checkout's root, from bench/ in the sources or dist/bench/ once built. */
export const repoRoot = ((): string => {
  const up = resolve(import.meta.dirname, '..');
  return basename(up) === 'dist' ? dirname(up) : up;
})();

export interface PrepareOptions {
  imagesDir?: string;
  /** Runs scripts/build-images.sh; resolves with its exit code. */
  buildImages?: () => Promise<number>;
  /** Where progress lines go (stderr: stdout carries the benchmark's JSON). */
  say?: (line: string) => void;
}

export class BenchmarkNotReadyError extends Error {}

/** Builds the images `benchmark` needs when one is missing; throws one line saying what to run when it cannot. */
export async function prepareBenchmark(benchmark: string, options: PrepareOptions = {}): Promise<void> {
  const imagesDir = options.imagesDir ?? join(repoRoot, 'build/images');
  const say = options.say ?? ((line: string) => process.stderr.write(`${line}\n`));
  const missing = (BENCHMARK_IMAGES[benchmark] ?? []).filter((n) => !existsSync(join(imagesDir, `${n}.tar`)));
  if (missing.length === 0) return;
  const tarballs = missing.map((n) => `build/images/${n}.tar`).join(', ');
  say(`bench ${benchmark}: ${tarballs} missing; building it with scripts/build-images.sh …`);
  const code = await (options.buildImages ?? runBuildImages)();
  const still = missing.filter((n) => !existsSync(join(imagesDir, `${n}.tar`)));
  if (code !== 0 || still.length > 0) {
    throw new BenchmarkNotReadyError(
      `bench ${benchmark} needs ${tarballs}, and scripts/build-images.sh failed (exit ${code}); run \`bash scripts/build-images.sh\` as root on a machine with the Debian package archive, then \`npm run bench -- ${benchmark}\` again.`,
    );
  }
}

function runBuildImages(): Promise<number> {
  return new Promise((resolveCode) => {
    // Its output goes to stderr: stdout carries the benchmark's JSON figures.
    const child = spawn('bash', [join(repoRoot, 'scripts/build-images.sh')], {
      cwd: repoRoot,
      stdio: ['ignore', process.stderr, process.stderr],
    });
    child.on('error', () => resolveCode(127));
    child.on('close', (code) => resolveCode(code ?? 1));
  });
}
