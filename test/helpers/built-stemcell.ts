import { existsSync, readdirSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';

const repoRoot = ((): string => {
  const up = resolve(import.meta.dirname, '../..');
  return basename(up) === 'dist' ? dirname(up) : up;
})();

/**
 * The stemcell scripts/setup.sh built (stemcells/bosun-debian-12-*.tgz, newest first). An e2e test
 * that needs it fails, saying how to build it, rather than skipping.
 */
export function builtStemcellFile(): string {
  const dir = join(repoRoot, 'stemcells');
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => /^bosun-debian-12-.*\.tgz$/.test(f)).sort() : [];
  const newest = files.at(-1);
  if (newest === undefined) throw new Error(`No stemcell in ${dir}: build one with \`bash scripts/build-stemcell.sh\` (after \`npm run build\`).`);
  return join(dir, newest);
}
