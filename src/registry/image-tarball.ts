import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import tar from 'tar-stream';
import type { Header } from 'tar-stream';
import { errorMessage, InvalidInputError } from '../common/errors.js';

/**
 * Reads an image tarball: `docker save` output (manifest.json + config + layer tars; also the
 * OCI-flavoured variant newer Docker writes) or an OCI image layout (index.json + blobs/).
 *
 * Two passes over the file, so that nothing big is held in memory: `readImageTarball` keeps
 * only the JSON documents (an entry that does not start like JSON streams past, and all of them
 * together are bounded) and learns which entries are layers; `prepareLayers` then streams each
 * layer once through sha256 + gzip into a temporary file, ready to upload.
 */
export interface ImageTarballInfo {
  format: 'docker-save' | 'oci-layout';
  /** The names the tarball carries (`redis:7`, `docker.io/library/redis:7`), possibly none. */
  repoTags: string[];
  /** The image config blob, byte for byte (its digest must not change). */
  config: Buffer;
  configDigest: string;
  /** The config's rootfs.diff_ids: digests of the uncompressed layers, in order. */
  diffIds: string[];
  /** The layers' entries in the tarball, in order (same length as diffIds). */
  layers: TarballLayerRef[];
}

export interface TarballLayerRef {
  /** The entry's name in the tarball, with symlinks resolved. */
  entryName: string;
}

export interface PreparedLayer {
  /** Digest of the blob as pushed (gzip-compressed). */
  digest: string;
  size: number;
  mediaType: string;
  /** The uncompressed digest from the image config. */
  diffId: string;
  /** A temporary file holding the blob. */
  filePath: string;
}

export const DOCKER_LAYER_GZIP = 'application/vnd.docker.image.rootfs.diff.tar.gzip';

/** The part of tar-stream's entry stream that is used here (its type is not exported). */
interface TarEntry extends AsyncIterable<unknown> {
  header: Header;
  resume(): unknown;
}

/** Largest JSON document (manifest, index, config) read from a tarball. */
const METADATA_ENTRY_MAX_BYTES = 4 * 1024 * 1024;
/** All JSON documents held in memory at once while reading a tarball, whatever its number of entries. */
const METADATA_TOTAL_MAX_BYTES = 16 * 1024 * 1024;
const OCI_INDEX_TYPES = new Set([
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
]);

function sha256(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

function normalizeEntryName(name: string): string {
  return path.posix.normalize(name.replace(/^\.\//, '')).replace(/\/$/, '');
}

function badTarball(tarPath: string, what: string, cause?: unknown): InvalidInputError {
  return new InvalidInputError(
    `The image tarball ${tarPath} ${what}. Create it with "docker save IMAGE -o FILE" (or as an OCI image layout) and try again.`,
    cause === undefined ? undefined : { cause },
  );
}

/** Runs `onEntry` for every entry of the tar file in order; each entry must be consumed by it. */
async function forEachEntry(
  tarPath: string,
  onEntry: (name: string, header: Header, entry: TarEntry) => Promise<void>,
): Promise<void> {
  const extract = tar.extract();
  const input = createReadStream(tarPath);
  input.on('error', (err) => extract.destroy(err));
  input.pipe(extract);
  try {
    for await (const entry of extract) {
      await onEntry(normalizeEntryName(entry.header.name), entry.header, entry);
    }
  } catch (err) {
    input.destroy();
    if (err instanceof InvalidInputError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR') {
      throw new InvalidInputError(`Cannot read the image tarball ${tarPath}: ${errorMessage(err)}.`, {
        cause: err,
      });
    }
    throw badTarball(tarPath, `is not a readable tar archive (${errorMessage(err)})`, err);
  }
}

/**
 * Reads an entry that may be a JSON document: only one whose first byte (after white space) is
 * `{` or `[` is kept; any other (a layer) is drained chunk by chunk, never held.
 */
async function readIfJson(entry: TarEntry): Promise<Buffer | undefined> {
  const iterator = entry[Symbol.asyncIterator]();
  const chunks: Buffer[] = [];
  let verdict: 'json' | 'other' | undefined;
  for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
    const chunk = next.value as Buffer;
    if (verdict === undefined) {
      const first = chunk.toString('latin1').trimStart()[0];
      if (first !== undefined) verdict = first === '{' || first === '[' ? 'json' : 'other';
    }
    if (verdict !== 'other') chunks.push(chunk);
  }
  return verdict === 'json' ? Buffer.concat(chunks) : undefined;
}

/** One entry's content (at most METADATA_ENTRY_MAX_BYTES), by a pass of its own. */
async function readEntry(tarPath: string, wanted: string): Promise<Buffer | undefined> {
  let found: Buffer | undefined;
  await forEachEntry(tarPath, async (name, header, entry) => {
    if (found === undefined && name === wanted && (header.size ?? 0) <= METADATA_ENTRY_MAX_BYTES) {
      const chunks: Buffer[] = [];
      for await (const chunk of entry) chunks.push(chunk as Buffer);
      found = Buffer.concat(chunks);
    } else {
      entry.resume();
    }
  });
  return found;
}

function parseJson(tarPath: string, name: string, data: Buffer): unknown {
  try {
    return JSON.parse(data.toString('utf8'));
  } catch (err) {
    throw badTarball(tarPath, `has an unreadable ${name} (${errorMessage(err)})`, err);
  }
}

interface Descriptor {
  mediaType?: string;
  digest?: string;
  platform?: { os?: string; architecture?: string };
  annotations?: Record<string, string>;
}

export async function readImageTarball(tarPath: string): Promise<ImageTarballInfo> {
  try {
    const st = await stat(tarPath);
    if (!st.isFile()) throw new Error('not a regular file');
  } catch (err) {
    throw new InvalidInputError(`Cannot read the image tarball ${tarPath}: ${errorMessage(err)}.`, {
      cause: err,
    });
  }

  // One pass keeps the JSON documents (within a budget) and learns every file's name and size;
  // layers stream past. A document the budget left out is read by a later pass (readEntries).
  const small = new Map<string, Buffer>();
  const symlinks = new Map<string, string>();
  const files = new Map<string, number>();
  let heldBytes = 0;
  await forEachEntry(tarPath, async (name, header, entry) => {
    if (header.type === 'symlink' && header.linkname) {
      symlinks.set(name, normalizeEntryName(path.posix.join(path.posix.dirname(name), header.linkname)));
      entry.resume();
    } else if (header.type === 'file' || header.type === 'contiguous-file') {
      const size = header.size ?? 0;
      files.set(name, size);
      if (size <= METADATA_ENTRY_MAX_BYTES && heldBytes + size <= METADATA_TOTAL_MAX_BYTES) {
        const data = await readIfJson(entry);
        if (data !== undefined) {
          small.set(name, data);
          heldBytes += data.length;
        }
      } else {
        entry.resume();
      }
    } else {
      entry.resume();
    }
  });

  const resolve = (name: string): string => {
    let current = normalizeEntryName(name);
    for (let hops = 0; hops < 16 && symlinks.has(current); hops++) current = symlinks.get(current) ?? current;
    return current;
  };
  const smallEntry = async (name: string, what: string): Promise<Buffer> => {
    const entryName = resolve(name);
    const held = small.get(entryName);
    if (held !== undefined) return held;
    const size = files.get(entryName);
    if (size === undefined) throw badTarball(tarPath, `lacks the ${what} ${name}`);
    if (size > METADATA_ENTRY_MAX_BYTES) throw badTarball(tarPath, `has a ${what} (${name}) too large to be one`);
    // Not JSON at first sight, or left out by the budget: read this one entry on its own.
    const data = await readEntry(tarPath, entryName);
    if (data === undefined) throw badTarball(tarPath, `lacks the ${what} ${name}`);
    return data;
  };
  const blobName = (digest: string | undefined): string => {
    if (!digest || !/^sha256:[0-9a-f]{64}$/.test(digest))
      throw badTarball(tarPath, `refers to a blob with an invalid digest "${String(digest)}"`);
    return `blobs/sha256/${digest.slice('sha256:'.length)}`;
  };

  let format: ImageTarballInfo['format'];
  let repoTags: string[];
  let config: Buffer;
  let layerNames: string[];

  if (files.has('manifest.json')) {
    format = 'docker-save';
    const manifest = parseJson(tarPath, 'manifest.json', await smallEntry('manifest.json', 'manifest')) as unknown;
    if (!Array.isArray(manifest) || manifest.length === 0)
      throw badTarball(tarPath, 'has an empty manifest.json');
    if (manifest.length > 1) {
      throw badTarball(
        tarPath,
        `holds ${manifest.length} images; save one image per tarball ("docker save IMAGE -o FILE")`,
      );
    }
    const entry = manifest[0] as { Config?: unknown; RepoTags?: unknown; Layers?: unknown };
    if (typeof entry.Config !== 'string' || !Array.isArray(entry.Layers)) {
      throw badTarball(tarPath, 'has a manifest.json without Config and Layers');
    }
    repoTags = Array.isArray(entry.RepoTags)
      ? entry.RepoTags.filter((t): t is string => typeof t === 'string')
      : [];
    config = await smallEntry(entry.Config, 'image config');
    layerNames = entry.Layers.map((l) => String(l));
  } else if (files.has('index.json')) {
    format = 'oci-layout';
    const index = parseJson(tarPath, 'index.json', await smallEntry('index.json', 'index')) as {
      manifests?: Descriptor[];
    };
    let descriptor = index.manifests?.[0];
    if (!descriptor) throw badTarball(tarPath, 'has an index.json that lists no image');
    if ((index.manifests?.length ?? 0) > 1) {
      throw badTarball(tarPath, `holds ${index.manifests?.length ?? 0} images; save one image per tarball`);
    }
    const name =
      descriptor.annotations?.['io.containerd.image.name'] ??
      descriptor.annotations?.['org.opencontainers.image.ref.name'];
    // A bare ref.name is only a tag ("7"): without a repository it cannot name the image.
    repoTags = name && name.includes(':') ? [name] : [];
    for (let depth = 0; descriptor && OCI_INDEX_TYPES.has(descriptor.mediaType ?? '') && depth < 4; depth++) {
      const nested = parseJson(
        tarPath,
        'image index',
        await smallEntry(blobName(descriptor.digest), 'image index'),
      ) as { manifests?: Descriptor[] };
      descriptor =
        nested.manifests?.find((m) => m.platform?.os === 'linux' && m.platform.architecture === 'amd64') ??
        (nested.manifests?.length === 1 ? nested.manifests[0] : undefined);
      if (!descriptor) throw badTarball(tarPath, 'has no linux/amd64 image in its index');
    }
    const manifest = parseJson(
      tarPath,
      'image manifest',
      await smallEntry(blobName(descriptor?.digest), 'image manifest'),
    ) as {
      config?: Descriptor;
      layers?: Descriptor[];
    };
    config = await smallEntry(blobName(manifest.config?.digest), 'image config');
    layerNames = (manifest.layers ?? []).map((l) => blobName(l.digest));
  } else {
    throw badTarball(
      tarPath,
      'contains neither manifest.json (docker save) nor index.json (OCI image layout)',
    );
  }

  const parsedConfig = parseJson(tarPath, 'image config', config) as { rootfs?: { diff_ids?: unknown } };
  const diffIds = Array.isArray(parsedConfig.rootfs?.diff_ids)
    ? parsedConfig.rootfs.diff_ids.map((d) => String(d))
    : [];
  if (diffIds.length !== layerNames.length) {
    throw badTarball(
      tarPath,
      `is inconsistent: its config lists ${diffIds.length} layers but its manifest ${layerNames.length}`,
    );
  }
  const layers = layerNames.map((n) => {
    const entryName = resolve(n);
    if (!files.has(entryName)) throw badTarball(tarPath, `lacks the layer ${n}`);
    return { entryName };
  });
  return { format, repoTags, config, configDigest: sha256(config), diffIds, layers };
}

/** Counts bytes and hashes them on their way through. */
class HashingCounter extends Transform {
  readonly hash = createHash('sha256');
  bytes = 0;
  constructor(private readonly onBytes?: (n: number) => void) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    this.onBytes?.(chunk.length);
    this.push(chunk);
    done();
  }
}

type Compression = 'none' | 'gzip' | 'zstd';

function compressionOf(firstChunk: Buffer | undefined): Compression {
  if (firstChunk && firstChunk[0] === 0x1f && firstChunk[1] === 0x8b) return 'gzip';
  if (firstChunk && firstChunk.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
  return 'none';
}

/**
 * Streams each layer out of the tarball into `workDir` as a gzip blob (already-gzipped layers are
 * copied as they are), checking every uncompressed layer against its diff_id. `onBytes` reports
 * the tarball bytes read. gzip with fixed settings is deterministic, so the same layer always
 * gets the same blob digest and a second push finds it already there.
 */
export async function prepareLayers(
  tarPath: string,
  info: ImageTarballInfo,
  workDir: string,
  onBytes?: (n: number) => void,
  onLayer?: (blobBytes: number) => void,
): Promise<PreparedLayer[]> {
  const wanted = new Map<string, number>();
  info.layers.forEach((l, i) => {
    if (!wanted.has(l.entryName)) wanted.set(l.entryName, i);
  });
  const byEntry = new Map<string, Omit<PreparedLayer, 'diffId'>>();
  let counter = 0;

  await forEachEntry(tarPath, async (name, _header, entry) => {
    const index = wanted.get(name);
    if (index === undefined || byEntry.has(name)) {
      entry.resume();
      return;
    }
    const filePath = path.join(workDir, `layer-${counter++}.blob`);
    const iterator = entry[Symbol.asyncIterator]();
    const first = await iterator.next();
    const firstChunk = first.done ? undefined : (first.value as Buffer);
    const compression = compressionOf(firstChunk);
    if (compression === 'zstd') {
      throw badTarball(
        tarPath,
        `has a zstd-compressed layer (${name}), which dockerd 20.10 cannot pull; save it uncompressed or gzip-compressed`,
      );
    }
    async function* replay(): AsyncGenerator<Buffer> {
      if (firstChunk) yield firstChunk;
      for (let next = await iterator.next(); !next.done; next = await iterator.next())
        yield next.value as Buffer;
    }
    const raw = new HashingCounter(onBytes);
    const blob = new HashingCounter();
    if (compression === 'gzip') {
      await pipeline(replay(), raw, blob, createWriteStream(filePath));
    } else {
      await pipeline(replay(), raw, createGzip({ level: 6 }), blob, createWriteStream(filePath));
      const diffId = `sha256:${raw.hash.digest('hex')}`;
      if (diffId !== info.diffIds[index]) {
        throw badTarball(
          tarPath,
          `has a corrupt layer ${name}: its content has digest ${diffId}, the config expects ${String(info.diffIds[index])}`,
        );
      }
    }
    byEntry.set(name, {
      digest: `sha256:${blob.hash.digest('hex')}`,
      size: blob.bytes,
      mediaType: DOCKER_LAYER_GZIP,
      filePath,
    });
    onLayer?.(blob.bytes);
  });

  return info.layers.map((l, i) => {
    const prepared = byEntry.get(l.entryName);
    if (!prepared) throw badTarball(tarPath, `lacks the layer ${l.entryName}`);
    return { ...prepared, diffId: info.diffIds[i] ?? '' };
  });
}
