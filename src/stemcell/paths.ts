import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

/** The bosun package root, whether this file runs from src/ (vitest) or dist/src/ (built). */
export function bosunPackageRoot(): string {
  const up = path.resolve(here, '../..');
  return path.basename(up) === 'dist' ? path.dirname(up) : up;
}

/** Where `scripts/setup.sh` and `bosun build-stemcell` put stemcells by default, and `bosun up` finds them. */
export function defaultStemcellDir(): string {
  return path.join(bosunPackageRoot(), 'stemcells');
}

/** The Debian root filesystem cache of the builder. */
export function defaultStemcellCacheDir(): string {
  return path.join(defaultStemcellDir(), '.cache');
}
