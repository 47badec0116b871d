import { stat, statfs } from 'node:fs/promises';
import { dirname } from 'node:path';
import { BosunError } from '../../common/errors.js';

/**
 * What a client may make the director's API hold or wait for: body sizes per kind of route, the
 * size of an image upload (and room for it on disk), and how long a request may take to arrive.
 * Set from the director config's `api:` section (docs/director.md).
 */
export interface ApiLimits {
  /** Largest JSON body of a route that takes no manifest. */
  jsonBodyBytes: number;
  /** Largest JSON body of a route that carries a manifest (deploy, diff). */
  manifestBodyBytes: number;
  /** Largest image tarball `POST /api/v1/images` accepts. */
  uploadMaxBytes: number;
  /**
   * How long a request other than an upload may take to arrive, headers and body (Node's own
   * default is 5 minutes for every request, uploads included). 0: no limit.
   */
  requestTimeoutMs: number;
  /** An upload has no overall time limit; it is cut when no byte arrives for this long. 0: never. */
  uploadIdleTimeoutMs: number;
  /** Largest `GET …/logs` answer: longer logs are cut (each container keeps its last lines) and say so. */
  logsMaxBytes: number;
}

export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;

export const DEFAULT_API_LIMITS: ApiLimits = {
  jsonBodyBytes: 1 * MiB,
  manifestBodyBytes: 16 * MiB,
  uploadMaxBytes: 16 * GiB,
  requestTimeoutMs: 5 * 60_000,
  uploadIdleTimeoutMs: 5 * 60_000,
  logsMaxBytes: 4 * MiB,
};

export function resolveApiLimits(partial: Partial<ApiLimits> = {}): ApiLimits {
  const defined = Object.fromEntries(Object.entries(partial).filter(([, v]) => v !== undefined));
  return { ...DEFAULT_API_LIMITS, ...defined };
}

/** 413: the body is larger than the route accepts. */
export class PayloadTooLargeError extends BosunError {
  constructor(message: string) {
    super('invalid_input', 413, message);
  }
}

/** 507: the director's disk has no room for what was sent. */
export class InsufficientStorageError extends BosunError {
  constructor(message: string, details?: unknown) {
    super('unavailable', 507, message, { details });
  }
}

export function formatBytes(bytes: number): string {
  if (bytes >= GiB) return `${(bytes / GiB).toFixed(1)} GiB`;
  if (bytes >= MiB) return `${(bytes / MiB).toFixed(1)} MiB`;
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${bytes} bytes`;
}

/** Room an upload of N bytes needs in a directory: N times `factor`. */
export interface SpaceNeed {
  dir: string;
  /** Bytes needed there per uploaded byte. */
  factor: number;
  /** What lives there, for the error message ("the tarball and its compressed layers"). */
  what: string;
}

export interface FilesystemSpace {
  /** Identifies the filesystem (st_dev): two directories on one filesystem share its free space. */
  device: number;
  freeBytes: number;
}

/** Free space for an unprivileged writer (f_bavail) of the filesystem holding `dir` (or its nearest existing parent). */
export async function filesystemSpace(dir: string): Promise<FilesystemSpace> {
  let current = dir;
  for (;;) {
    try {
      const [fs, st] = await Promise.all([statfs(current), stat(current)]);
      return { device: st.dev, freeBytes: fs.bavail * fs.bsize };
    } catch (err) {
      const parent = dirname(current);
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || parent === current) throw err;
      current = parent;
    }
  }
}

/** Kept free beyond what an upload needs, so that an upload never fills the director's disk. */
export const UPLOAD_SPACE_RESERVE_BYTES = 64 * MiB;

/**
 * Refuses an upload of `sizeBytes` unless every filesystem it will be written to has room for it:
 * the needs of directories on one filesystem add up.
 */
export async function checkUploadSpace(
  sizeBytes: number,
  needs: SpaceNeed[],
  space: (dir: string) => Promise<FilesystemSpace> = filesystemSpace,
): Promise<void> {
  const byDevice = new Map<number, { needed: number; free: number; dirs: string[]; what: string[] }>();
  for (const need of needs) {
    const fs = await space(need.dir);
    const entry = byDevice.get(fs.device) ?? { needed: UPLOAD_SPACE_RESERVE_BYTES, free: fs.freeBytes, dirs: [], what: [] };
    entry.needed += Math.ceil(sizeBytes * need.factor);
    entry.dirs.push(need.dir);
    entry.what.push(need.what);
    byDevice.set(fs.device, entry);
  }
  for (const e of byDevice.values()) {
    if (e.free >= e.needed) continue;
    throw new InsufficientStorageError(
      `The director has not enough free disk space for this ${formatBytes(sizeBytes)} image: it needs ${formatBytes(e.needed)} on the filesystem of ${e.dirs.join(' and ')} (${e.what.join(', ')}, and ${formatBytes(UPLOAD_SPACE_RESERVE_BYTES)} kept free) and ${formatBytes(e.free)} is free. Free some space there (orphaned disks: \`bosun disks --orphaned\`, then \`bosun delete-disk CID\`) and upload again.`,
      { neededBytes: e.needed, freeBytes: e.free, dirs: e.dirs },
    );
  }
}

/** A size as the director config writes it: bytes, or a number with k, m, g or t (binary units: 1m = 1 MiB). */
export const SIZE_PATTERN = /^(\d+)\s*([kmgt]i?b?|b)?$/i;

export function parseSize(value: number | string): number {
  if (typeof value === 'number') return value;
  const m = SIZE_PATTERN.exec(value.trim());
  if (!m) throw new Error(`"${value}" is not a size such as 512k, 16m or 20g`);
  const unit = (m[2] ?? 'b').toLowerCase()[0] as 'b' | 'k' | 'm' | 'g' | 't';
  return Number(m[1]) * { b: 1, k: 1024, m: MiB, g: GiB, t: 1024 * GiB }[unit];
}
