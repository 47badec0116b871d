/**
 * Where container data lives on the persistent disk ("the store"). Every host-side path is
 * relative to the store and may never leave it; each bind_volume gets its own sub-directory
 * `containers/<name>/<container path>` (the docker BOSH release mapped them all to one directory).
 */
import { describe, type Parsed } from './units.js';

/** The docker BOSH release's default store_dir; it means "the store root" in bosun. */
export const RELEASE_STORE_DIR = '/var/vcap/store';

export interface ParsedVolume {
  /** Host side relative to the store; undefined = the container's own sub-directory for `target`. */
  hostPath?: string;
  /** hostPath was written as "/var/vcap/store/…": relative to the store root, not to store_dir. */
  fromStoreRoot?: boolean;
  /** An absolute directory of the VM itself (outside the store): only where the director allows it. */
  vmPath?: string;
  target: string;
  readOnly: boolean;
  /** The mode as written (`:ro`/`:rw`), if any. */
  mode?: 'ro' | 'rw';
}

function hasDotDot(p: string): boolean {
  return p.split('/').some((s) => s === '..');
}

function normalise(p: string): string {
  const segs = p.split('/').filter((s) => s !== '' && s !== '.');
  return (p.startsWith('/') ? '/' : '') + segs.join('/');
}

function splitMode(v: string): { path: string; readOnly: boolean; mode?: 'ro' | 'rw' } {
  const m = /^(.*):(ro|rw)$/.exec(v);
  return m
    ? { path: m[1] ?? '', readOnly: m[2] === 'ro', mode: m[2] as 'ro' | 'rw' }
    : { path: v, readOnly: false };
}

function containerPath(p: string, original: string): string | null {
  if (hasDotDot(p))
    return `"${original}" contains ".."; it would escape the container's directory on the persistent disk`;
  if (!p.startsWith('/'))
    return `"${original}" must name an absolute path inside the container, e.g. "/var/lib/data"`;
  if (normalise(p) === '/')
    return `"${original}" would mount over the container's whole file system; name a directory such as "/data"`;
  return null;
}

/** bind_volumes: "/var/lib/redis" or "/var/lib/redis:ro" (a path inside the container). */
export function parseBindVolume(v: unknown): Parsed<ParsedVolume> {
  if (typeof v !== 'string') return { error: `expected a container path like "/data", got ${describe(v)}` };
  const { path, readOnly } = splitMode(v.trim());
  const err = containerPath(path, v);
  if (err) return { error: err };
  return { value: { target: normalise(path), readOnly } };
}

/**
 * volumes: "HOST:CONTAINER[:ro]" with HOST relative to the store (so containers can share a
 * directory) or under "/var/vcap/store" (the release's mount point of the persistent disk), or
 * another absolute directory of the VM (vmPath: the director's host-path policy decides), or a
 * bare "/container/path" that behaves like a bind_volume.
 */
export function parseVolume(v: unknown): Parsed<ParsedVolume> {
  if (typeof v !== 'string')
    return { error: `expected "HOST_DIR:CONTAINER_PATH" or "/container/path", got ${describe(v)}` };
  const { path, readOnly, mode } = splitMode(v.trim());
  const colon = path.indexOf(':');
  if (colon < 0) return parseBindVolume(v);
  const host = path.slice(0, colon);
  const target = path.slice(colon + 1);
  const err = containerPath(target, v);
  if (host.startsWith('/')) {
    if (hasDotDot(host)) return { error: `"${v}": the host path "${host}" contains ".."; write it without ".."` };
    if (err) return { error: err };
    const h = normalise(host);
    const withMode = mode === undefined ? {} : { mode };
    if (h === RELEASE_STORE_DIR || h.startsWith(`${RELEASE_STORE_DIR}/`))
      return {
        value: { hostPath: h.slice(RELEASE_STORE_DIR.length + 1), fromStoreRoot: true, target: normalise(target), readOnly, ...withMode },
      };
    return { value: { vmPath: h, target: normalise(target), readOnly, ...withMode } };
  }
  if (host === '' || hasDotDot(host))
    return {
      error: `"${v}": the host path "${host}" escapes the persistent disk; write a relative path without ".."`,
    };
  if (err) return { error: err };
  return { value: { hostPath: normalise(host), target: normalise(target), readOnly, ...(mode === undefined ? {} : { mode }) } };
}

/** Whether an absolute directory of the VM is allowed by the policy's list (each entry and below). */
export function vmPathAllowed(path: string, allowed: readonly string[] | undefined): boolean {
  return (allowed ?? []).some((a) => {
    const p = normalise(a).replace(/\/+$/, '');
    return p !== '' && (path === p || path.startsWith(`${p}/`));
  });
}

/** store_dir: relative to the store; the release's "/var/vcap/store" means the store root. */
export function parseStoreDir(v: unknown): Parsed<string> {
  if (typeof v !== 'string') return { error: `expected a directory, got ${describe(v)}` };
  const p = v.trim().replace(/\/+$/, '');
  if (p === RELEASE_STORE_DIR || p === '' || p === '.') return { value: '' };
  if (p.startsWith(`${RELEASE_STORE_DIR}/`)) return parseStoreDir(p.slice(RELEASE_STORE_DIR.length + 1));
  if (p.startsWith('/'))
    return {
      error: `store_dir "${v}" is absolute; it must be a directory relative to the persistent disk (or "${RELEASE_STORE_DIR}", its root)`,
    };
  if (hasDotDot(p)) return { error: `store_dir "${v}" contains ".." and would escape the persistent disk` };
  return { value: normalise(p) };
}

/**
 * env_file: the text of an env file (one KEY=VALUE per line, "#" comments), not a path on the VM;
 * or a list of such texts (the release takes a list of files).
 */
export function parseEnvFile(v: unknown): Parsed<Array<[string, string]>> {
  if (Array.isArray(v)) {
    const out: Array<[string, string]> = [];
    for (const [i, x] of v.entries()) {
      const r = parseEnvFile(x);
      if (r.error !== undefined) return { error: v.length > 1 ? `env_file[${i}]: ${r.error}` : r.error };
      out.push(...r.value);
    }
    return { value: out };
  }
  if (typeof v !== 'string')
    return { error: `expected the text of an env file ("KEY=VALUE" lines), got ${describe(v)}` };
  if (!v.includes('\n') && v.trim().startsWith('/')) {
    return {
      error: `env_file "${v.trim()}" is a path on the VM, which bosun cannot read at plan time; put the file's "KEY=VALUE" lines inline (env_file: |) or use env`,
    };
  }
  const out: Array<[string, string]> = [];
  for (const [i, raw] of v.split('\n').entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) return { error: `line ${i + 1} of env_file ("${line}") is not "KEY=VALUE"` };
    out.push([line.slice(0, eq), line.slice(eq + 1)]);
  }
  return { value: out };
}

/** The store-relative host directory of a container path, one sub-directory per path. */
export function storePathFor(storeDir: string, container: string, target: string): string {
  return [storeDir, 'containers', container, target.replace(/^\/+/, '')].filter((s) => s !== '').join('/');
}
