import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { parse, stringify } from 'yaml';
import { InvalidInputError } from '../common/errors.js';

/** The director the CLI talks to, as `bosun up` writes it to ~/.bosun/config (mode 0600: it holds the token). */
export interface Target {
  url: string;
  token: string;
  caPem: string;
  /**
   * The data directory of the director `bosun up` started (absent for a director started
   * otherwise): `bosun down` and `status` act on it unless --data-dir names another.
   */
  dataDir?: string;
}

/** --config FILE, else BOSUN_CONFIG, else ~/.bosun/config. */
export function targetConfigPath(
  options: { config?: string },
  env: Record<string, string | undefined>,
  homeDir: string,
): string {
  return options.config ?? env['BOSUN_CONFIG'] ?? join(homeDir, '.bosun', 'config');
}

export async function readTarget(path: string): Promise<Target> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new InvalidInputError(
        `No director is targeted (${path} does not exist): start one with \`bosun up\`, which writes that file, or pass --config FILE.`,
      );
    }
    throw err;
  }
  const raw = parse(text) as Partial<Target> | null;
  if (!raw || typeof raw.url !== 'string' || typeof raw.token !== 'string' || typeof raw.caPem !== 'string') {
    throw new InvalidInputError(
      `The CLI target config ${path} must have url, token and caPem; run \`bosun up\` again to rewrite it.`,
    );
  }
  return {
    url: raw.url.replace(/\/+$/, ''),
    token: raw.token,
    caPem: raw.caPem,
    ...(typeof raw.dataDir === 'string' && raw.dataDir !== '' ? { dataDir: raw.dataDir } : {}),
  };
}

/** The target, or null when there is none (or it cannot be read): for commands that can do without. */
export async function readTargetIfAny(path: string): Promise<Target | null> {
  try {
    return await readTarget(path);
  } catch {
    return null;
  }
}

export async function writeTarget(path: string, target: Target): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await writeFile(path, stringify(target), { mode: 0o600 });
  // writeFile keeps the mode of an existing file: make sure an older, looser file is tightened.
  await chmod(path, 0o600);
}
