import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * The director's data directory. Secrets (CA key, admin token) are files of mode 0600 in
 * directories of mode 0700; `bosun up` reads the token and the CA certificate from here to write
 * the CLI's target config.
 */
export const DEFAULT_DATA_DIR = '/var/lib/bosun';

export function dataDirPaths(dataDir: string) {
  return {
    root: dataDir,
    caDir: join(dataDir, 'ca'),
    caCert: join(dataDir, 'ca', 'ca.pem'),
    /** Written by loadOrCreateCertificateAuthority (src/director/ca-files.ts). */
    adminToken: join(dataDir, 'admin-token'),
    pidFile: join(dataDir, 'director.pid'),
    logFile: join(dataDir, 'director.log'),
    /** Written by the running director: { url, pid, bridgeName, subnet, dataDir } (read by `bosun up/down`). */
    stateFile: join(dataDir, 'director.json'),
    /** { bridgeName, subnet } of the local cloud; kept after the director stops (read by `bosun down --purge`). */
    networkFile: join(dataDir, 'network.json'),
    /** { type, configFile } of the director's cloud; kept after it stops (read by `bosun down --purge`). */
    cloudFile: join(dataDir, 'cloud.json'),
    uploads: join(dataDir, 'uploads'),
    /** Stemcell images while an upload task verifies and hands them to the cloud (director.ts). */
    stemcellWork: join(dataDir, 'stemcell-work'),
    cloud: join(dataDir, 'cloud'),
    configFile: join(dataDir, 'director.yml'),
  };
}

export async function ensureDataDir(dataDir: string): Promise<void> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  await chmod(dataDir, 0o700);
}

/** Loads the admin API token, generating it on first start (256 random bits). */
export async function loadOrCreateAdminToken(dataDir: string): Promise<string> {
  const path = dataDirPaths(dataDir).adminToken;
  const existing = await readAdminToken(dataDir);
  if (existing) return existing;
  const token = randomBytes(32).toString('base64url');
  await writeFile(path, `${token}\n`, { mode: 0o600, flag: 'wx' }).catch(
    async (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err;
    },
  );
  return (await readAdminToken(dataDir)) ?? token;
}

export async function readAdminToken(dataDir: string): Promise<string | null> {
  try {
    const token = (await readFile(dataDirPaths(dataDir).adminToken, 'utf8')).trim();
    return token || null;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}
