/**
 * A real director for end-to-end tests: the built CLI's `bosun up` starts it as a detached child
 * process (so a test can SIGKILL it and start it again) with the local cloud on a fixture bridge
 * (`bosunt<N>`, its own /24, its own temp dir), its own ports and CLI target config. The CLI is run
 * in process (`buildProgram().parseAsync`) against it.
 *
 *   const d = await startDirectorFixture({ images: ['busybox', 'redis'] });
 *   afterAll(() => d.cleanup());            // down --purge + fixture cleanup, even after failures
 *   const r = await d.cli('-d', name, 'deploy', file, '-n');
 *
 * The stemcell scripts/build-stemcell.sh built is uploaded by `bosun up --stemcell` at start, so every deploy boots
 * stemcell VMs (a manifest without `stemcells` takes the newest debian-12 one).
 *
 * Needs root, `npm run build` (the director and the agents run from dist/) and a built stemcell.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { processContext, type CliContext } from '../../src/cli/context.js';
import { dataDirPaths } from '../../src/director/daemon/data-dir.js';
import { runCli, type CliResult } from '../unit/cli/harness.js';
import { builtStemcellFile } from './built-stemcell.js';
import { createLocalCloudFixture, type LocalCloudFixture } from './local-cloud-fixture.js';
import { freePort } from './free-port.js';

const execFileAsync = promisify(execFile);
const twoUp = fileURLToPath(new URL('../../', import.meta.url));
// From dist/test/helpers/ (a compiled benchmark) the repository is one level further up.
const repoRoot = existsSync(join(twoUp, 'package.json')) ? twoUp : join(twoUp, '..');
export const builtCli = join(repoRoot, 'dist/src/cli/main.js');
export const imagesDir = join(repoRoot, 'build/images');

/**
 * The e2e prerequisites: root and a built CLI. A missing one fails the test with a message that
 * says what to do; an e2e test never skips itself, so a green run always ran it.
 */
export function assertDirectorE2ePrerequisites(): void {
  if (process.getuid?.() !== 0) throw new Error('e2e tests need root (namespaces, loop devices, mounts): run them as root.');
  if (!existsSync(builtCli)) throw new Error(`e2e tests run the built CLI and ${builtCli} is missing: run \`npm run build\` first.`);
}

export interface DirectorFixture {
  fx: LocalCloudFixture;
  /** The director's data dir (under the fixture's temp dir). */
  dataDir: string;
  url: string;
  /** The director's cloud data dir: VMs under `<cloudDir>/vms/<cid>`. */
  cloudDir: string;
  /** Runs `bosun ARGS…` in process against this director. */
  cli(...args: string[]): Promise<CliResult>;
  /** Like cli() but parses stdout of a `--json` command; throws with the output when it fails. */
  json<T>(...args: string[]): Promise<T>;
  /** The director's pid (from its pid file), or null. */
  pid(): Promise<number | null>;
  /** `bosun up` (again): starts the director when it is not running. */
  start(): Promise<void>;
  /** SIGKILLs the director process (a crash); waits until it is gone. */
  kill(): Promise<void>;
  /** The director's log so far (for failure messages). */
  log(): Promise<string>;
  /** `bosun down --purge` then the fixture's cleanup. Never throws. */
  cleanup(): Promise<void>;
}

export interface DirectorFixtureOptions {
  /** Tarballs under build/images/ to upload once the director is up (built when missing). */
  images?: Array<'busybox' | 'redis'>;
  /** Extra lines for the director config file (YAML); a function gets the fixture's network and dirs. */
  extraConfig?: string | ((f: { fx: LocalCloudFixture; dataDir: string; cloudDir: string }) => string);
}

export { freePort };

/** Builds build/images/*.tar with scripts/build-images.sh when one is missing (a no-op otherwise). */
export async function ensureImages(names: string[]): Promise<void> {
  if (names.every((n) => existsSync(join(imagesDir, `${n}.tar`)))) return;
  await execFileAsync('bash', [join(repoRoot, 'scripts/build-images.sh')], {
    cwd: repoRoot,
    maxBuffer: 64 * 1024 * 1024,
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function startDirectorFixture(options: DirectorFixtureOptions = {}): Promise<DirectorFixture> {
  assertDirectorE2ePrerequisites();
  await ensureImages(options.images ?? []);
  const fx = await createLocalCloudFixture();
  const dataDir = join(fx.dataDir, 'director');
  const configFile = join(fx.dataDir, 'director.yml');
  let context: CliContext | null = null;

  const cli = async (...args: string[]): Promise<CliResult> => {
    if (!context) throw new Error('the director fixture is not set up');
    return runCli(context, args);
  };
  const pid = async (): Promise<number | null> => {
    const n = Number((await readFile(dataDirPaths(dataDir).pidFile, 'utf8').catch(() => '')).trim());
    return n > 0 ? n : null;
  };
  const log = async (): Promise<string> =>
    readFile(dataDirPaths(dataDir).logFile, 'utf8').catch(() => '(no director log)');
  let url = '';
  const port = await freePort();

  const start = async (): Promise<void> => {
    const up = await cli(
      'up',
      '--data-dir',
      dataDir,
      '--listen',
      `127.0.0.1:${port}`,
      '--director-config',
      configFile,
      '--stemcell',
      builtStemcellFile(),
    );
    if (up.code !== 0) {
      throw new Error(`bosun up failed (${up.code}): ${up.stdout}${up.stderr}\n${(await log()).slice(-4000)}`);
    }
    url = `https://127.0.0.1:${port}`;
  };

  const kill = async (): Promise<void> => {
    const p = await pid();
    if (p === null || !isAlive(p)) return;
    process.kill(p, 'SIGKILL');
    for (let i = 0; i < 100 && isAlive(p); i++) await new Promise((r) => setTimeout(r, 50));
  };

  const cleanup = async (): Promise<void> => {
    try {
      if (context) {
        const down = await cli('down', '--data-dir', dataDir, '--purge');
        if (down.code !== 0) console.warn(`bosun down --purge failed: ${down.stdout}${down.stderr}`);
      }
    } catch (err) {
      console.warn(`bosun down --purge threw: ${String(err)}`);
    } finally {
      await kill().catch(() => undefined);
      await fx.cleanup();
    }
  };

  try {
    const registryPort = await freePort();
    await writeFile(
      configFile,
      [
        `bridge: ${fx.bridgeName}`,
        `subnet: ${fx.subnet}`,
        `registry_port: ${registryPort}`,
        'log_level: debug',
        typeof options.extraConfig === 'function'
          ? options.extraConfig({ fx, dataDir, cloudDir: dataDirPaths(dataDir).cloud })
          : (options.extraConfig ?? ''),
      ].join('\n'),
    );
    context = {
      ...processContext(),
      stdinIsTty: false,
      pollIntervalMs: 200,
      env: { PATH: process.env['PATH'], BOSUN_CONFIG: join(fx.dataDir, 'cli-config') },
    };
    await start();
    for (const image of options.images ?? []) {
      const r = await cli('upload-image', join(imagesDir, `${image}.tar`));
      if (r.code !== 0) throw new Error(`upload-image ${image}.tar failed: ${r.stdout}${r.stderr}`);
    }
  } catch (err) {
    await cleanup();
    throw err;
  }

  const json = async <T>(...args: string[]): Promise<T> => {
    const r = await cli('--json', ...args);
    try {
      return JSON.parse(r.stdout) as T;
    } catch {
      throw new Error(`bosun ${args.join(' ')} did not print JSON (exit ${r.code}): ${r.stdout}${r.stderr}`);
    }
  };

  return {
    fx,
    dataDir,
    get url() {
      return url;
    },
    cloudDir: dataDirPaths(dataDir).cloud,
    cli,
    json,
    pid,
    start,
    kill,
    log,
    cleanup,
  };
}
