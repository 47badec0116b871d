/**
 * `bosun up`'s stemcell step: a director without any stemcell gets the one `scripts/setup.sh`
 * built (the newest stemcells/bosun-debian-12-*.tgz next to the package, or `--stemcell FILE`).
 * A director that has one is left alone, so running `bosun up` again changes nothing.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import type { StemcellInfo, TaskRef } from '../common/contracts/api.js';
import { InvalidInputError } from '../common/errors.js';
import { compareStemcellVersions } from '../stemcell/stemcell-manifest.js';
import type { Session } from './session.js';
import { runTask } from './session.js';

const BUILT_STEMCELL = /^bosun-debian-12-(.+)\.tgz$/;

/** The newest built stemcell tarball in `dir` (by version), or null when there is none. */
export function newestBuiltStemcell(dir: string): string | null {
  const names = existsSync(dir) ? readdirSync(dir).filter((n) => BUILT_STEMCELL.test(n)) : [];
  const version = (n: string): string => BUILT_STEMCELL.exec(n)?.[1] ?? '';
  const newest = names.sort((a, b) => compareStemcellVersions(version(a), version(b))).at(-1);
  return newest === undefined ? null : path.join(dir, newest);
}

export type UpStemcellOutcome = 'present' | 'uploaded' | 'none-built';

/**
 * Uploads `file` (else the newest built stemcell of `dir`) when the director has no stemcell.
 * No stemcell anywhere: says how to build one and returns 'none-built' (the director stays up).
 */
export async function ensureDirectorStemcell(
  session: Session,
  options: { file?: string; dir: string },
  say: (line: string) => void,
): Promise<UpStemcellOutcome> {
  const uploaded = await session.client.get<StemcellInfo[]>('/api/v1/stemcells');
  if (uploaded.length > 0) return 'present';
  let file = options.file === undefined ? null : path.resolve(options.file);
  if (file !== null && !statSync(file, { throwIfNoEntry: false })?.isFile()) {
    throw new InvalidInputError(`Cannot read the stemcell ${file} given with --stemcell: give a stemcell tarball (bosun-debian-12-VERSION.tgz).`);
  }
  file ??= newestBuiltStemcell(options.dir);
  if (file === null) {
    say(
      `The director has no stemcell and none is built in ${options.dir}: build one with \`bash scripts/build-stemcell.sh\` (or \`bosun build-stemcell\`), then run \`bosun up\` again or \`bosun upload-stemcell FILE\`. Deploys need a stemcell.`,
    );
    return 'none-built';
  }
  say(`The director has no stemcell: uploading ${file} …`);
  const { task } = await session.client.upload<TaskRef>('/api/v1/stemcells', file, 'application/x-tar');
  await runTask({ ...session, options: { ...session.options, json: true } }, task, { printJson: false });
  say(`Uploaded the stemcell ${path.basename(file)}.`);
  return 'uploaded';
}
