import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { HttpsClient } from '../common/http/https-client.js';
import { dataDirPaths } from '../director/daemon/data-dir.js';

/**
 * The background director that `bosun up` starts and `bosun down` stops: a detached
 * `bosun director` process with its output in <data-dir>/director.log and its pid in a pid file.
 */
export interface DirectorState {
  url: string;
  pid: number;
  bridgeName: string;
  subnet: string;
  dataDir: string;
}

export async function readDirectorState(dataDir: string): Promise<DirectorState | null> {
  try {
    return JSON.parse(await readFile(dataDirPaths(dataDir).stateFile, 'utf8')) as DirectorState;
  } catch {
    return null;
  }
}

export async function readPid(pidFile: string): Promise<number | null> {
  try {
    const pid = Number((await readFile(pidFile, 'utf8')).trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Alive and a `bosun director` (a stale pid file may name a pid reused by something else). */
export function isDirectorAlive(pid: number): boolean {
  if (!isAlive(pid)) return false;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes('director');
  } catch {
    return true; // no /proc: trust the pid
  }
}

/** Starts `bosun director …` detached from this process, its output appended to logFile. */
export async function spawnDirector(args: string[], logFile: string, pidFile: string): Promise<number> {
  const main = cliEntry();
  const fd = openSync(logFile, 'a', 0o600);
  try {
    const child = spawn(process.execPath, [main, 'director', ...args], {
      detached: true,
      stdio: ['ignore', fd, fd],
    });
    const pid = child.pid;
    if (pid === undefined) throw new Error(`could not start ${process.execPath} ${main}`);
    child.unref();
    await writeFile(pidFile, `${pid}\n`, { mode: 0o644 });
    return pid;
  } finally {
    closeSync(fd);
  }
}

/** The built CLI: next to this file when it runs from dist/, else (vitest runs src/) dist/src/cli/main.js. */
function cliEntry(): string {
  const sibling = fileURLToPath(new URL('./main.js', import.meta.url));
  if (existsSync(sibling)) return sibling;
  return fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url));
}

/** GET /healthz trusting only the director's CA; true when it answers 200. */
export async function probeHealth(url: string, caPem: string, timeoutMs = 2000): Promise<boolean> {
  let client: HttpsClient | undefined;
  try {
    client = new HttpsClient({ baseUrl: url, peerName: `the director at ${url}`, tls: { caPem }, timeoutMs });
    return (await client.raw('GET', '/healthz', { maxResponseBytes: 64 * 1024 })).status === 200;
  } catch {
    return false;
  } finally {
    await client?.close();
  }
}

/** SIGTERM, then SIGKILL after graceMs; resolves when the process is gone. */
export async function stopProcess(
  pid: number,
  graceMs: number,
  sleep: (ms: number) => Promise<void>,
): Promise<'stopped' | 'killed'> {
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return 'stopped';
  }
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return 'stopped';
    await sleep(200);
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone meanwhile
  }
  while (isAlive(pid)) await sleep(100);
  return 'killed';
}

export async function tailFile(path: string, lines: number): Promise<string> {
  try {
    return (await readFile(path, 'utf8'))
      .split('\n')
      .slice(-lines - 1)
      .join('\n');
  } catch {
    return '';
  }
}

export async function removeFile(path: string): Promise<void> {
  await rm(path, { force: true });
}
