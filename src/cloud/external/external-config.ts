import path from 'node:path';
import { z } from 'zod';
import { InvalidInputError } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';
import { silentLogger } from '../../common/logger.js';

/** CPI methods bosun calls, with the time each may take before the CPI is killed. */
export const DEFAULT_CPI_TIMEOUTS_MS: Record<string, number> = {
  default: 5 * 60_000,
  info: 60_000,
  create_stemcell: 20 * 60_000,
  create_vm: 20 * 60_000,
  delete_vm: 10 * 60_000,
  has_vm: 60_000,
  has_disk: 60_000,
  get_disks: 60_000,
  set_vm_metadata: 60_000,
};

export interface ExternalCloudOptions {
  /** The CPI executable (absolute path). */
  cpi: string;
  /** Arguments given to it on every call (e.g. `-configPath FILE`, or the script a runtime runs). */
  cpiArgs?: string[];
  /** Merged into every request's context (BOSH's cpi-config properties: account, region, host …). */
  properties?: Record<string, unknown>;
  /** Per-method timeouts; `default` for the others. */
  timeoutsMs?: Record<string, number>;
  /** False when the CPI cannot grow a disk in place (the director then copies to a new disk). Default true. */
  resizeInPlace?: boolean;
  /** The director's uuid for the context (BOSH `director_uuid`); settable later (setDirectorUuid). */
  directorUuid?: string;
  /** The name `info` reports; default the executable's file name. */
  name?: string;
  logger?: Logger;
}

export interface ExternalCloudConfig {
  cpi: string;
  cpiArgs: string[];
  properties: Record<string, unknown>;
  timeoutsMs: Record<string, number>;
  resizeInPlace: boolean;
  directorUuid: string;
  name: string;
  logger: Logger;
}

const schema = z.object({
  cpi: z.string().min(1).refine((p) => path.isAbsolute(p), 'must be an absolute path to the CPI executable'),
  cpiArgs: z.array(z.string()).default([]),
  properties: z.record(z.string(), z.unknown()).default({}),
  timeoutsMs: z.record(z.string(), z.number().int().positive()).default({}),
  resizeInPlace: z.boolean().default(true),
  directorUuid: z.string().default('bosun'),
  name: z.string().min(1).optional(),
});

/** Interpreters a CPI may be run with: the CPI is then the script they are given. */
const INTERPRETERS = /^(node|nodejs|ruby|python[0-9.]*|bash|sh|perl)$/;
/** Names too generic to tell a CPI by: its folder says more (`…/local-cpi/main.js` → `local-cpi`). */
const GENERIC_NAMES = new Set(['main', 'index', 'cpi', 'run', 'bin']);

/**
 * A cloud's name for `status` and messages when the config gives none: the executable's file name,
 * or for an interpreter the script it runs; a generic name (`bin/cpi`, `main.js`) gives way to its folder.
 */
export function cpiDisplayName(cpi: string, cpiArgs: string[]): string {
  const script = INTERPRETERS.test(path.basename(cpi)) ? cpiArgs.find((a) => !a.startsWith('-')) : undefined;
  const file = script ?? cpi;
  const base = path.basename(file).replace(/\.(js|mjs|cjs|rb|py|sh)$/, '');
  if (!GENERIC_NAMES.has(base)) return base;
  let dir = path.dirname(file);
  while (GENERIC_NAMES.has(path.basename(dir)) || path.basename(dir) === 'src' || path.basename(dir) === 'dist') dir = path.dirname(dir);
  const parent = path.basename(dir);
  return parent === '' || parent === '/' ? base : parent;
}

export function compileExternalCloudConfig(options: ExternalCloudOptions): ExternalCloudConfig {
  const { logger, ...raw } = options;
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(options)'}: ${i.message}`).join('; ');
    throw new InvalidInputError(`The external cloud configuration is invalid: ${problems}.`);
  }
  const d = parsed.data;
  return {
    cpi: d.cpi,
    cpiArgs: d.cpiArgs,
    properties: d.properties,
    timeoutsMs: { ...DEFAULT_CPI_TIMEOUTS_MS, ...d.timeoutsMs },
    resizeInPlace: d.resizeInPlace,
    directorUuid: d.directorUuid,
    name: d.name ?? cpiDisplayName(d.cpi, d.cpiArgs),
    logger: logger ?? silentLogger,
  };
}
