/**
 * Reads a BOSH stemcell tarball (`stemcell.MF`, `image`, optionally `packages.txt`) in one pass:
 * the image is streamed to a file while its sha1 is computed, so a stemcell of hundreds of MiB is
 * never held in memory, and the sha1 in stemcell.MF is checked before anyone uses the image.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';

import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import tar from 'tar-stream';
import { InvalidInputError } from '../common/errors.js';
import { parseStemcellManifest, type StemcellManifest } from './stemcell-manifest.js';

export interface OpenedStemcell {
  manifest: StemcellManifest;
  /** Where the `image` member was written (the caller owns and removes it). */
  imagePath: string;
  imageSizeBytes: number;
  packages: string | null;
}

const MAX_TEXT_MEMBER_BYTES = 4 * 1024 * 1024;

/** Extracts `image` to `imagePath` and verifies it against stemcell.MF; throws InvalidInputError otherwise. */
export async function openStemcellTarball(file: string, imagePath: string): Promise<OpenedStemcell> {
  let manifestText: string | null = null;
  let packages: string | null = null;
  let imageSha1: string | null = null;
  let imageSize = 0;
  const extract = tar.extract();
  extract.on('entry', (header, stream, next) => {
    const name = header.name.replace(/^\.\//, '');
    const done = (err?: unknown): void => (err ? extract.destroy(err as Error) : next());
    if (header.type !== 'file') {
      stream.resume();
      stream.on('end', () => done());
      return;
    }
    if (name === 'image') {
      const hash = createHash('sha1');
      stream.on('data', (chunk: unknown) => {
        const b = chunk as Buffer;
        hash.update(b);
        imageSize += b.length;
      });
      pipeline(stream, createWriteStream(imagePath, { mode: 0o600 })).then(
        () => {
          imageSha1 = hash.digest('hex');
          done();
        },
        done,
      );
      return;
    }
    if (name === 'stemcell.MF' || name === 'packages.txt') {
      const chunks: Buffer[] = [];
      let size = 0;
      stream.on('data', (chunk: unknown) => {
        const b = chunk as Buffer;
        size += b.length;
        if (size <= MAX_TEXT_MEMBER_BYTES) chunks.push(b);
      });
      stream.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        if (name === 'stemcell.MF') manifestText = text;
        else packages = text;
        done();
      });
      stream.on('error', done);
      return;
    }
    stream.resume();
    stream.on('end', () => done());
  });
  try {
    await pipeline(createReadStream(file), createGunzip(), extract);
  } catch (err) {
    await rm(imagePath, { force: true });
    throw new InvalidInputError(
      `${file} is not a stemcell tarball (a gzipped tar with stemcell.MF and image): ${(err as Error).message}. ` +
        'Build one with `bosun build-stemcell`.',
      { cause: err },
    );
  }
  const fail = async (message: string): Promise<never> => {
    await rm(imagePath, { force: true });
    throw new InvalidInputError(message);
  };
  if (manifestText === null) return fail(`${file} has no stemcell.MF: it is not a BOSH stemcell tarball.`);
  if (imageSha1 === null) return fail(`${file} has no image: it is not a BOSH stemcell tarball.`);
  let manifest: StemcellManifest;
  try {
    manifest = parseStemcellManifest(manifestText, `stemcell.MF in ${file}`);
  } catch (err) {
    await rm(imagePath, { force: true });
    throw err;
  }
  if (manifest.sha1 !== imageSha1) {
    return fail(
      `The image in ${file} does not match its stemcell.MF (sha1 ${imageSha1}, stemcell.MF says ${manifest.sha1}): ` +
        'the file is damaged or was changed; download or build it again.',
    );
  }
  return { manifest, imagePath, imageSizeBytes: imageSize, packages };
}

/** Reads only stemcell.MF (for `bosun build-stemcell` reports and the CLI), skipping the image. */
export async function readStemcellManifest(file: string): Promise<StemcellManifest> {
  let text: string | null = null;
  const extract = tar.extract();
  extract.on('entry', (header, stream, next) => {
    if (header.name.replace(/^\.\//, '') !== 'stemcell.MF') {
      stream.resume();
      stream.on('end', next);
      return;
    }
    const chunks: Buffer[] = [];
    stream.on('data', (c: unknown) => chunks.push(c as Buffer));
    stream.on('end', () => {
      text = Buffer.concat(chunks).toString('utf8');
      next();
    });
  });
  try {
    await pipeline(createReadStream(file), createGunzip(), extract);
  } catch (err) {
    throw new InvalidInputError(`${file} is not a stemcell tarball: ${(err as Error).message}.`, { cause: err });
  }
  if (text === null) throw new InvalidInputError(`${file} has no stemcell.MF: it is not a BOSH stemcell tarball.`);
  return parseStemcellManifest(text, `stemcell.MF in ${file}`);
}
