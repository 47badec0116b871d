/**
 * Builds a bosun stemcell from Debian's packages: mmdebstrap of bookworm (minbase plus
 * STEMCELL_PACKAGES), the host's Node runtime (Debian bookworm's nodejs is 18, older than the agent
 * needs), the built agent with its production node_modules, and BOSH's conventions, packed as a
 * BOSH stemcell tarball. Two caches keep a rebuild cheap: the Debian root filesystem is kept per
 * hash of (suite, mirror, packages), and the finished tarball per hash of every input, so a build
 * whose inputs did not change returns the existing tarball at once.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { BosunError } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import {
  AGENT_HOME,
  AGENT_JSON_PATH,
  AGENT_LAUNCHER,
  DEBIAN_SUITE,
  NODE_PATH,
  RUNSVDIR_START,
  STEMCELL_API_VERSION,
  STEMCELL_FORMATS,
  STEMCELL_NAME,
  STEMCELL_OS,
  STEMCELL_PACKAGES,
  SYNC_TIME,
  agentJson,
} from './stemcell-contents.js';
import { serializeStemcellManifest, type StemcellManifest } from './stemcell-manifest.js';

/** Bump when the builder changes what it puts into a stemcell: every cached stemcell is rebuilt. */
const BUILDER_REVISION = 3;
/** Bump when the Debian root filesystem is made differently: the cached base is rebuilt too. */
const BASE_REVISION = 1;

export class StemcellBuildError extends BosunError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('internal', 500, message, options);
  }
}

export interface BuildStemcellOptions {
  /** The bosun package root (package.json, package-lock.json, dist/, node_modules/). */
  repoRoot: string;
  /** Where the tarball is written. */
  outDir: string;
  /** Where the Debian root filesystem is cached between builds. */
  cacheDir: string;
  /** Debian mirror; default: the first `URIs:`/`deb` line of the host's apt sources. */
  mirror?: string;
  /** The Node binary copied into the stemcell (default: the one running this). */
  nodeBinary?: string;
  /** Version of the stemcell; default: `<package version>-<UTC date and time>`. */
  version?: string;
  /** Rebuild even when the inputs did not change. */
  force?: boolean;
  logger: Logger;
  now?: () => Date;
}

export interface BuiltStemcell {
  file: string;
  manifest: StemcellManifest;
  sizeBytes: number;
  /** False when an identical earlier build was returned. */
  built: boolean;
  /** True when the Debian root filesystem came from the cache. */
  baseCached: boolean;
  inputsHash: string;
  durationMs: number;
}

interface BuildRecord {
  inputsHash: string;
  file: string;
}

export async function buildStemcell(options: BuildStemcellOptions): Promise<BuiltStemcell> {
  const started = Date.now();
  const log = options.logger.child({ component: 'stemcell-builder' });
  const repoRoot = path.resolve(options.repoRoot);
  const nodeBinary = options.nodeBinary ?? process.execPath;
  const mirror = options.mirror ?? (await hostDebianMirror());
  const pkg = JSON.parse(await readFile(path.join(repoRoot, 'package.json'), 'utf8')) as { version: string };
  const agentDirs = ['dist/src/agent', 'dist/src/common'].map((d) => path.join(repoRoot, d));
  for (const dir of agentDirs) {
    if (!existsSync(path.join(dir))) {
      throw new StemcellBuildError(`${dir} is missing: build bosun first (\`npm run build\`), then build the stemcell.`);
    }
  }
  const baseHash = sha256(JSON.stringify({ BASE_REVISION, suite: DEBIAN_SUITE, mirror, packages: STEMCELL_PACKAGES }));
  const inputs = createHash('sha256');
  inputs.update(baseHash);
  inputs.update(`builder=${BUILDER_REVISION}`);
  inputs.update(await readFile(path.join(repoRoot, 'package.json')));
  inputs.update(await readFile(path.join(repoRoot, 'package-lock.json')));
  inputs.update(await fileSha256(nodeBinary));
  for (const dir of agentDirs) await hashTree(dir, repoRoot, inputs);
  if (options.version !== undefined) inputs.update(`version=${options.version}`);
  const inputsHash = inputs.digest('hex');

  await mkdir(options.outDir, { recursive: true });
  const recordFile = path.join(options.outDir, `.${STEMCELL_NAME}.build.json`);
  const previous = await readRecord(recordFile);
  if (!options.force && previous?.inputsHash === inputsHash && existsSync(previous.file)) {
    const { readStemcellManifest } = await import('./stemcell-tarball.js');
    const manifest = await readStemcellManifest(previous.file);
    log.info('stemcell is up to date', { file: previous.file });
    return {
      file: previous.file,
      manifest,
      sizeBytes: (await stat(previous.file)).size,
      built: false,
      baseCached: true,
      inputsHash,
      durationMs: Date.now() - started,
    };
  }

  const version = options.version ?? `${pkg.version}-${dateStamp((options.now ?? (() => new Date()))())}`;
  const work = path.join(options.cacheDir, `work-${process.pid}`);
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true });
  try {
    const base = path.join(options.cacheDir, `base-${baseHash.slice(0, 16)}`);
    const baseCached = existsSync(path.join(base, 'complete'));
    if (!baseCached) await buildBase(base, mirror, log);
    await removeOtherBases(options.cacheDir, path.basename(base));

    const rootfs = path.join(work, 'rootfs');
    // Hard links: instant, and addBosun replaces files instead of writing into them, so the cached base stays intact.
    await run('cp', ['-al', path.join(base, 'rootfs'), rootfs]);
    await addBosun(rootfs, { repoRoot, nodeBinary, work, version, log });
    const packages = await packageList(rootfs, nodeBinary, pkg.version);

    log.info('packing the image');
    const image = path.join(work, 'image');
    await runShell(`tar --numeric-owner --sort=name -C ${q(rootfs)} -cf - . | gzip -n -1 > ${q(image)}`);
    const manifest: StemcellManifest = {
      name: STEMCELL_NAME,
      version,
      apiVersion: STEMCELL_API_VERSION,
      boshProtocol: 1,
      operatingSystem: STEMCELL_OS,
      stemcellFormats: STEMCELL_FORMATS,
      cloudProperties: { infrastructure: 'local', architecture: 'x86_64', root_device_name: '/dev/sda1' },
      sha1: await fileHash(image, 'sha1'),
    };
    const pack = path.join(work, 'pack');
    await mkdir(pack);
    await rename(image, path.join(pack, 'image'));
    await writeFile(path.join(pack, 'stemcell.MF'), serializeStemcellManifest(manifest));
    await writeFile(path.join(pack, 'packages.txt'), packages);
    const file = path.join(options.outDir, `${STEMCELL_NAME}-${version}.tgz`);
    const partial = `${file}.partial`;
    // The image is already gzipped; the outer gzip is what BOSH's layout asks for.
    await runShell(`tar --numeric-owner -C ${q(pack)} -cf - stemcell.MF packages.txt image | gzip -n -1 > ${q(partial)}`);
    await rename(partial, file);
    if (previous && previous.file !== file) await rm(previous.file, { force: true });
    await writeFile(recordFile, JSON.stringify({ inputsHash, file } satisfies BuildRecord) + '\n');
    const sizeBytes = (await stat(file)).size;
    log.info('stemcell built', { file, sizeMiB: Math.round(sizeBytes / 1048576) });
    return { file, manifest, sizeBytes, built: true, baseCached, inputsHash, durationMs: Date.now() - started };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function buildBase(base: string, mirror: string, log: Logger): Promise<void> {
  log.info('building the Debian root filesystem with mmdebstrap', { suite: DEBIAN_SUITE, mirror });
  await rm(base, { recursive: true, force: true });
  await mkdir(base, { recursive: true });
  const rootfs = path.join(base, 'rootfs');
  try {
    await run(
      'mmdebstrap',
      [
        '--variant=minbase',
        `--include=${STEMCELL_PACKAGES.join(',')}`,
        '--dpkgopt=path-exclude=/usr/share/man/*',
        '--dpkgopt=path-exclude=/usr/share/doc/*',
        '--dpkgopt=path-include=/usr/share/doc/*/copyright',
        '--dpkgopt=path-exclude=/usr/share/locale/*',
        '--dpkgopt=path-exclude=/usr/share/info/*',
        DEBIAN_SUITE,
        rootfs,
        mirror,
      ],
      { SOURCE_DATE_EPOCH: '0' },
    );
  } catch (err) {
    await rm(base, { recursive: true, force: true });
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new StemcellBuildError('mmdebstrap is not installed: run `apt-get install -y mmdebstrap` (or scripts/setup.sh).', { cause: err });
    }
    throw err;
  }
  await writeFile(path.join(base, 'complete'), new Date().toISOString() + '\n');
}

async function removeOtherBases(cacheDir: string, keep: string): Promise<void> {
  for (const name of await readdir(cacheDir).catch(() => [] as string[])) {
    if (name.startsWith('base-') && name !== keep) await rm(path.join(cacheDir, name), { recursive: true, force: true });
  }
}

async function addBosun(
  rootfs: string,
  ctx: { repoRoot: string; nodeBinary: string; work: string; version: string; log: Logger },
): Promise<void> {
  const at = (p: string): string => path.join(rootfs, p);
  for (const dir of ['/var/vcap/bosh/etc', '/var/vcap/bosh/bin', '/var/vcap/bosh/log', '/var/vcap/data', '/var/vcap/store', '/etc/docker', AGENT_HOME]) {
    await mkdir(at(dir), { recursive: true });
  }
  await replaceFile(at('/var/vcap/bosh/etc/stemcell_version'), `${ctx.version}\n`);
  await replaceFile(at('/var/vcap/bosh/etc/stemcell_operating_system'), `${STEMCELL_OS}\n`);
  await replaceFile(at(AGENT_JSON_PATH), JSON.stringify(agentJson(), null, 2) + '\n');
  await writeExecutable(at('/usr/sbin/runsvdir-start'), RUNSVDIR_START);
  await writeExecutable(at('/var/vcap/bosh/bin/bosun-agent'), AGENT_LAUNCHER);
  await writeExecutable(at('/var/vcap/bosh/bin/sync-time'), SYNC_TIME);
  await rm(at(NODE_PATH), { force: true });
  await copyFile(ctx.nodeBinary, at(NODE_PATH));
  await chmod(at(NODE_PATH), 0o755);
  // An image without a machine id: each VM gets its own from its cloud.
  await replaceFile(at('/etc/machine-id'), '');
  await replaceFile(at('/etc/hostname'), 'bosun\n');

  // The agent: built JavaScript of agent/ and common/ plus production node_modules (pruned offline).
  ctx.log.info('adding the bosun agent and its production node_modules');
  const stage = path.join(ctx.work, 'agent');
  await mkdir(path.join(stage, 'dist/src'), { recursive: true });
  for (const sub of ['agent', 'common']) {
    await run('cp', ['-a', path.join(ctx.repoRoot, 'dist/src', sub), path.join(stage, 'dist/src', sub)]);
  }
  // Only the packages the agent's code imports (the director's, e.g. better-sqlite3, stay out).
  const pkg = JSON.parse(await readFile(path.join(ctx.repoRoot, 'package.json'), 'utf8')) as Record<string, unknown> & {
    dependencies?: Record<string, string>;
  };
  const used = await importedPackages(path.join(stage, 'dist/src'));
  const dependencies = Object.fromEntries(Object.entries(pkg.dependencies ?? {}).filter(([name]) => used.has(name)));
  await writeFile(path.join(stage, 'package.json'), JSON.stringify({ ...pkg, dependencies, devDependencies: {} }, null, 2) + '\n');
  await copyFile(path.join(ctx.repoRoot, 'package-lock.json'), path.join(stage, 'package-lock.json'));
  // Hard-linked copy: npm prune only unlinks, so the repository's node_modules are left alone.
  await run('cp', ['-al', path.join(ctx.repoRoot, 'node_modules'), path.join(stage, 'node_modules')]);
  await rm(path.join(stage, 'node_modules/.package-lock.json'), { force: true });
  await rm(path.join(stage, 'node_modules/.bosun-lock-hash'), { force: true });
  await run('npm', ['prune', '--omit=dev', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error'], {}, stage);
  await run('find', [path.join(stage, 'node_modules'), '-mindepth', '1', '-maxdepth', '1', '-type', 'd', '-empty', '-delete']);
  await run('cp', ['-a', `${stage}/.`, at(AGENT_HOME)]);
}

async function packageList(rootfs: string, nodeBinary: string, bosunVersion: string): Promise<string> {
  const { stdout } = await run('dpkg-query', [`--admindir=${path.join(rootfs, 'var/lib/dpkg')}`, '-W', '-f', '${Package} ${Version}\\n']);
  const debs = stdout.split('\n').filter(Boolean).sort();
  const nodeVersion = (await run(nodeBinary, ['--version'])).stdout.trim();
  return [
    `# Debian ${DEBIAN_SUITE} packages (mmdebstrap --variant=minbase --include=${STEMCELL_PACKAGES.join(',')})`,
    ...debs,
    '# not from Debian',
    `node ${nodeVersion.replace(/^v/, '')} (the build host's Node runtime at ${nodeBinary}, copied to ${NODE_PATH}: Debian bookworm's nodejs 18 is too old for the agent)`,
    `bosun-agent ${bosunVersion} (${AGENT_HOME}: built JavaScript and production node_modules)`,
    '',
  ].join('\n');
}

/** The mirror the host's apt uses (deb822 `URIs:` or one-line `deb URL suite`), else deb.debian.org. */
export async function hostDebianMirror(): Promise<string> {
  const files = ['/etc/apt/sources.list.d/debian.sources', '/etc/apt/sources.list'];
  for (const dir of ['/etc/apt/sources.list.d']) {
    for (const name of await readdir(dir).catch(() => [] as string[])) files.push(path.join(dir, name));
  }
  for (const file of files) {
    const text = await readFile(file, 'utf8').catch(() => '');
    for (const line of text.split('\n')) {
      const deb822 = /^URIs:\s*(\S+)/.exec(line);
      const oneLine = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)/.exec(line);
      const uri = deb822?.[1] ?? (oneLine && !oneLine[2]?.includes('security') ? oneLine[1] : undefined);
      if (uri && !uri.includes('security')) return uri;
    }
  }
  return 'http://deb.debian.org/debian';
}

async function writeExecutable(file: string, text: string): Promise<void> {
  await replaceFile(file, text, 0o755);
  await chmod(file, 0o755);
}

/** Writes a new file in place of any old one: the rootfs is hard-linked to the cached base. */
async function replaceFile(file: string, text: string, mode = 0o644): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  await rm(file, { force: true });
  await writeFile(file, text, { mode });
}

/** Bare package names imported by the built JavaScript under `dir` ("node:" built-ins left out). */
async function importedPackages(dir: string): Promise<Set<string>> {
  const names = new Set<string>();
  const visit = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const full = path.join(d, e.name);
      if (e.isDirectory()) await visit(full);
      else if (e.name.endsWith('.js')) {
        const text = await readFile(full, 'utf8');
        for (const m of text.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)['"]([^'"./][^'"]*)['"]/g)) {
          const spec = m[1] ?? '';
          if (spec.startsWith('node:')) continue;
          const parts = spec.split('/');
          names.add(spec.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? spec));
        }
      }
    }
  };
  await visit(dir);
  return names;
}

async function readRecord(file: string): Promise<BuildRecord | null> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as BuildRecord;
  } catch {
    return null;
  }
}

async function hashTree(dir: string, root: string, hash: ReturnType<typeof createHash>): Promise<void> {
  const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name));
  for (const e of entries) {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) await hashTree(full, root, hash);
    else if (e.isFile()) {
      hash.update(path.relative(root, full));
      hash.update(await readFile(full));
    }
  }
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

async function fileSha256(file: string): Promise<string> {
  return fileHash(file, 'sha256');
}

async function fileHash(file: string, algorithm: 'sha1' | 'sha256'): Promise<string> {
  const hash = createHash(algorithm);
  await pipeline(createReadStream(file), hash);
  return hash.digest('hex');
}

function dateStamp(d: Date): string {
  return d.toISOString().replace(/[-:T]/g, '').slice(0, 14);
}

function q(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

function runShell(script: string): Promise<{ stdout: string }> {
  return run('bash', ['-o', 'pipefail', '-c', script]);
}

function run(file: string, args: string[], env: Record<string, string> = {}, cwd?: string): Promise<{ stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
      if (stderr.length > 64 * 1024) stderr = stderr.slice(-32 * 1024);
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve({ stdout });
      else
        reject(
          new StemcellBuildError(
            `building the stemcell failed at \`${[file, ...args].join(' ')}\` (exit ${code}): ${stderr.trim().split('\n').slice(-5).join(' | ')}`,
          ),
        );
    });
  });
}
