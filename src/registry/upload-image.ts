import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { ImageInfo } from '../common/contracts/api.js';
import { InvalidInputError } from '../common/errors.js';
import { displayRepository, parseImageName } from './image-name.js';
import type { ImageReference } from './image-name.js';
import { prepareLayers, readImageTarball } from './image-tarball.js';
import type { ImageTarballInfo } from './image-tarball.js';
import { RegistryClient } from './registry-client.js';
import type { ManifestV2, PushProgress } from './registry-client.js';

/** What `bosun upload-image` does in the director: a tarball on disk → an image in the registry. */
export interface UploadImageOptions {
  registryUrl: string;
  caPem: string;
  /** The director's write credentials (RegistryServer.writeAuthorization). */
  authorization?: string;
  tarPath: string;
  /** `NAME[:TAG]` that replaces the tarball's own tag (the CLI's `--name`). */
  name?: string;
  onProgress?: (p: PushProgress) => void;
  /** Told each time a layer has been read out of the tarball and compressed (0-based index). */
  onLayerPrepared?: (index: number, total: number, sizeBytes: number) => void;
  /** Where the gzip blobs are staged while pushing (default: the OS temp dir); removed afterwards. */
  workDir?: string;
}

export interface UploadImageResult {
  /** As a person writes it: `redis`, `acme/web`. */
  repository: string;
  tag: string;
  digest: string;
  layersPushed: number;
  layersSkipped: number;
}

/** The name an uploaded image gets: `--name` if given, else the tarball's first tag. */
export function targetReference(
  image: ImageTarballInfo,
  tarPath: string,
  name: string | undefined,
): ImageReference {
  if (name !== undefined) return parseImageName(name);
  const own = image.repoTags[0];
  if (own === undefined) {
    throw new InvalidInputError(
      `The image tarball ${tarPath} carries no name; give one with --name NAME:TAG (e.g. --name acme/web:1).`,
    );
  }
  try {
    return parseImageName(own, { allowDockerHubHost: true });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new InvalidInputError(
      `The image tarball ${tarPath} is tagged "${own}", which cannot be uploaded as it is: ${message}`,
      { cause: err },
    );
  }
}

/** True when the registry already holds exactly this image under this tag, with all its blobs. */
async function alreadyPushed(
  client: RegistryClient,
  ref: ImageReference,
  image: ImageTarballInfo,
): Promise<{ digest: string; layers: number } | null> {
  const existing = await client.getManifest(ref.repository, ref.tag);
  if (!existing) return null;
  let manifest: Partial<ManifestV2>;
  try {
    manifest = JSON.parse(existing.body.toString('utf8')) as Partial<ManifestV2>;
  } catch {
    return null;
  }
  if (manifest.config?.digest !== image.configDigest || !Array.isArray(manifest.layers)) return null;
  if (manifest.layers.length !== image.layers.length) return null;
  for (const layer of manifest.layers) {
    if (!(await client.hasBlob(ref.repository, layer.digest))) return null;
  }
  if (!(await client.hasBlob(ref.repository, image.configDigest))) return null;
  return { digest: existing.digest, layers: manifest.layers.length };
}

export async function uploadImageTarball(options: UploadImageOptions): Promise<UploadImageResult> {
  const image = await readImageTarball(options.tarPath);
  const ref = targetReference(image, options.tarPath, options.name);
  const client = new RegistryClient({
    registryUrl: options.registryUrl,
    caPem: options.caPem,
    ...(options.authorization === undefined ? {} : { authorization: options.authorization }),
  });
  const workDir = await mkdtemp(path.join(options.workDir ?? os.tmpdir(), 'bosun-upload-'));
  try {
    // Same config digest under the same tag means the same image: nothing to read or send.
    const existing = await alreadyPushed(client, ref, image);
    if (existing) {
      options.onProgress?.({
        phase: 'done',
        bytesDone: 0,
        bytesTotal: 0,
        layersDone: existing.layers,
        layersTotal: existing.layers,
      });
      return {
        repository: displayRepository(ref.repository),
        tag: ref.tag,
        digest: existing.digest,
        layersPushed: 0,
        layersSkipped: existing.layers,
      };
    }
    let read = 0;
    let prepared = 0;
    const tarballBytes = (await stat(options.tarPath)).size;
    const layers = await prepareLayers(
      options.tarPath,
      image,
      workDir,
      (n) => {
        read += n;
        options.onProgress?.({
          phase: 'preparing',
          bytesDone: read,
          bytesTotal: tarballBytes,
          layersDone: prepared,
          layersTotal: image.layers.length,
        });
      },
      (size) => options.onLayerPrepared?.(prepared++, image.layers.length, size),
    );
    const result = await client.pushImage(ref, image, layers, options.onProgress);
    return { ...result, repository: displayRepository(result.repository) };
  } finally {
    client.close();
    await rm(workDir, { recursive: true, force: true });
  }
}

/** The registry's images for `GET /api/v1/images`. */
export async function listRegistryImages(options: {
  registryUrl: string;
  caPem: string;
}): Promise<ImageInfo[]> {
  const client = new RegistryClient(options);
  try {
    return await client.listImages();
  } finally {
    client.close();
  }
}

/** One line of upload progress: `transient` ones only say how far it got and are replaced by the next. */
export interface UploadProgressLine {
  message: string;
  percent?: number;
  transient: boolean;
}

function mib(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}

/**
 * Turns an upload's progress into lines for its task log: one lasting line per layer (prepared,
 * pushed), and between them transient percentage lines, at most one per percent, that a terminal
 * shows as one updating line and a log leaves out.
 */
export function uploadProgressLines(emit: (line: UploadProgressLine) => void): {
  onProgress: (p: PushProgress) => void;
  onLayerPrepared: (index: number, total: number, sizeBytes: number) => void;
} {
  let lastTick = '';
  let layersPushed = -1;
  return {
    onLayerPrepared: (index, total, size) =>
      emit({ message: `prepared layer ${index + 1}/${total} (${mib(size)} compressed)`, transient: false }),
    onProgress: (p) => {
      if ((p.phase === 'uploading' || p.phase === 'done') && p.layersDone !== layersPushed) {
        if (layersPushed >= 0 && p.layersDone > 0)
          emit({ message: `layer ${p.layersDone}/${p.layersTotal} is in the registry`, transient: false });
        layersPushed = p.layersDone;
      }
      if (p.phase === 'done' || p.bytesTotal <= 0) return;
      const percent = Math.min(100, Math.floor((p.bytesDone / p.bytesTotal) * 100));
      const message =
        p.phase === 'preparing'
          ? `preparing layers: ${mib(p.bytesDone)} of ${mib(p.bytesTotal)} read`
          : `pushing layer ${Math.min(p.layersDone + 1, p.layersTotal)}/${p.layersTotal}: ${mib(p.bytesDone)} of ${mib(p.bytesTotal)}`;
      const tick = `${p.phase} ${percent}`;
      if (tick === lastTick) return;
      lastTick = tick;
      emit({ message, percent, transient: true });
    },
  };
}
