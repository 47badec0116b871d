import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { PassThrough, pipeline, type Readable } from 'node:stream';
import type { ImageInfo } from '../common/contracts/api.js';
import type { BosunError } from '../common/errors.js';
import { InvalidInputError, NotFoundError, UnavailableError } from '../common/errors.js';
import { HttpsClient, type CallOptions, type RawResponse } from '../common/http/https-client.js';
import { displayRepository } from './image-name.js';
import type { ImageReference } from './image-name.js';
import type { ImageTarballInfo, PreparedLayer } from './image-tarball.js';

/**
 * A client for the registry HTTP API v2 (the subset bosun needs: push, read back, list, delete),
 * over the one HTTPS client (src/common/http/) trusting only the director's CA.
 */
export const DOCKER_MANIFEST_V2 = 'application/vnd.docker.distribution.manifest.v2+json';
export const DOCKER_IMAGE_CONFIG = 'application/vnd.docker.container.image.v1+json';
const MANIFEST_ACCEPT = [
  DOCKER_MANIFEST_V2,
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.index.v1+json',
].join(', ');

export interface RegistryClientOptions {
  /** e.g. `https://10.244.0.1:25556`. */
  registryUrl: string;
  /** The CA that issued the registry's certificate (the director's CA). */
  caPem: string;
  /** Sent with every request: the director's write credentials (pushes and deletes need them). */
  authorization?: string;
  requestTimeoutMs?: number;
}

export type RegistryResponse = RawResponse;

/** Manifests, catalog pages and the blobs read back (config, test layers) stay well below this. */
const MAX_RESPONSE_BYTES = 64 * 1024 * 1024;

export interface PushProgress {
  phase: 'preparing' | 'uploading' | 'done';
  bytesDone: number;
  bytesTotal: number;
  layersDone: number;
  layersTotal: number;
}

export interface PushResult {
  repository: string;
  tag: string;
  /** Digest of the manifest, the one `docker pull NAME@DIGEST` accepts. */
  digest: string;
  layersPushed: number;
  layersSkipped: number;
}

export interface ManifestV2 {
  schemaVersion: 2;
  mediaType: string;
  config: { mediaType: string; size: number; digest: string };
  layers: Array<{ mediaType: string; size: number; digest: string }>;
}

export class RegistryClient {
  readonly registryUrl: string;
  private readonly base: URL;
  private readonly http: HttpsClient;
  private readonly timeoutMs: number;
  private readonly authorization: string | undefined;

  constructor(options: RegistryClientOptions) {
    this.base = new URL(options.registryUrl);
    if (this.base.protocol !== 'https:') {
      throw new InvalidInputError(
        `The registry URL ${options.registryUrl} must start with https://; the registry only serves TLS.`,
      );
    }
    this.registryUrl = this.base.origin;
    this.timeoutMs = options.requestTimeoutMs ?? 60_000;
    this.authorization = options.authorization;
    this.http = new HttpsClient({
      baseUrl: this.registryUrl,
      peerName: `the image registry at ${this.registryUrl}`,
      tls: { caPem: options.caPem },
      timeoutMs: this.timeoutMs,
      maxResponseBytes: MAX_RESPONSE_BYTES,
      unreachableHint: "check that the director's registry is running.",
      untrustedHint: "Its certificate must be issued by the director's CA.",
    });
  }

  close(): void {
    void this.http.close().catch(() => undefined);
  }

  /**
   * One HTTP request; the response body is read whole (only manifests, JSON and test blobs come
   * back this way). A request body may be a stream, sent as it is read with the given
   * Content-Length: a streamed upload has no overall time limit, only an idle one.
   */
  async request(
    method: string,
    pathOrUrl: string,
    options: { headers?: Record<string, string | number>; body?: Buffer | (() => Readable) } = {},
  ): Promise<RegistryResponse> {
    const headers = this.authorization === undefined ? options.headers : { ...options.headers, authorization: this.authorization };
    const call: CallOptions = headers ? { headers } : {};
    const body = options.body;
    if (Buffer.isBuffer(body)) call.body = body;
    else if (body) {
      const length = Object.entries(options.headers ?? {}).find(([k]) => k.toLowerCase() === 'content-length')?.[1];
      // The caller's stream may already flow (a progress 'data' listener): a pipe holds its bytes
      // until the connection reads them, with backpressure, and passes its errors on.
      const stream = new PassThrough();
      pipeline(body(), stream, () => undefined);
      call.body = { stream, size: Number(length) };
      call.timeoutMs = 0;
      call.idleTimeoutMs = this.timeoutMs;
    }
    return this.http.raw(method, pathOrUrl, call);
  }

  private fail(what: string, res: RegistryResponse): BosunError {
    let detail = res.body.toString('utf8').slice(0, 500).trim();
    try {
      const parsed = JSON.parse(detail) as { errors?: Array<{ code?: string; message?: string }> };
      if (parsed.errors?.length)
        detail = parsed.errors.map((e) => `${e.code ?? ''}: ${e.message ?? ''}`).join('; ');
    } catch {
      // not JSON: keep the text
    }
    const message = `The image registry at ${this.registryUrl} refused to ${what} (HTTP ${res.status}${detail ? `: ${detail}` : ''}).`;
    if (res.status === 404) return new NotFoundError(message);
    if (res.status >= 400 && res.status < 500) return new InvalidInputError(message);
    return new UnavailableError(`${message} See the director's log for the registry's output.`);
  }

  /** Resolves when the registry answers GET /v2/ with 200. */
  async ping(): Promise<void> {
    const res = await this.request('GET', '/v2/');
    if (res.status !== 200) throw this.fail('answer GET /v2/', res);
  }

  async hasBlob(repository: string, digest: string): Promise<boolean> {
    const res = await this.request('HEAD', `/v2/${repository}/blobs/${digest}`);
    if (res.status === 200) return true;
    if (res.status === 404) return false;
    throw this.fail(`check blob ${digest} in ${repository}`, res);
  }

  /** Monolithic upload: POST to open an upload session, PUT the whole blob with its digest. */
  async uploadBlob(
    repository: string,
    digest: string,
    size: number,
    body: Buffer | (() => Readable),
  ): Promise<void> {
    const start = await this.request('POST', `/v2/${repository}/blobs/uploads/`, {
      headers: { 'Content-Length': 0 },
    });
    const location = start.headers.location;
    if (start.status !== 202 || !location) throw this.fail(`start an upload to ${repository}`, start);
    const target = new URL(location, this.base);
    target.searchParams.set('digest', digest);
    const res = await this.request('PUT', target.toString(), {
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': size },
      body,
    });
    if (res.status !== 201) throw this.fail(`accept blob ${digest} for ${repository}`, res);
  }

  async putManifest(repository: string, tag: string, manifest: Buffer, mediaType: string): Promise<string> {
    const res = await this.request('PUT', `/v2/${repository}/manifests/${tag}`, {
      headers: { 'Content-Type': mediaType, 'Content-Length': manifest.length },
      body: manifest,
    });
    if (res.status !== 201) throw this.fail(`store the manifest of ${repository}:${tag}`, res);
    const digest = res.headers['docker-content-digest'];
    return typeof digest === 'string'
      ? digest
      : `sha256:${createHash('sha256').update(manifest).digest('hex')}`;
  }

  /** The manifest of `reference` (a tag or digest), or null when there is none. */
  async getManifest(
    repository: string,
    reference: string,
  ): Promise<{ mediaType: string; digest: string; body: Buffer } | null> {
    const res = await this.request('GET', `/v2/${repository}/manifests/${reference}`, {
      headers: { Accept: MANIFEST_ACCEPT },
    });
    if (res.status === 404) return null;
    if (res.status !== 200) throw this.fail(`return the manifest of ${repository}:${reference}`, res);
    const digest = res.headers['docker-content-digest'];
    return {
      mediaType: String(res.headers['content-type'] ?? ''),
      digest:
        typeof digest === 'string' ? digest : `sha256:${createHash('sha256').update(res.body).digest('hex')}`,
      body: res.body,
    };
  }

  async getBlob(repository: string, digest: string): Promise<Buffer> {
    const res = await this.request('GET', `/v2/${repository}/blobs/${digest}`);
    if (res.status !== 200) throw this.fail(`return blob ${digest} of ${repository}`, res);
    return res.body;
  }

  /** Follows the registry's `Link: <...>; rel="next"` pagination. */
  private async paged<T>(first: string, what: string, pick: (json: unknown) => T[]): Promise<T[]> {
    const out: T[] = [];
    let next: string | null = first;
    while (next) {
      const res = await this.request('GET', next);
      if (res.status === 404) return out;
      if (res.status !== 200) throw this.fail(what, res);
      out.push(...pick(JSON.parse(res.body.toString('utf8'))));
      const link = res.headers.link;
      const match = typeof link === 'string' ? /<([^>]+)>;\s*rel="?next"?/.exec(link) : null;
      next = match?.[1] ?? null;
    }
    return out;
  }

  async repositories(): Promise<string[]> {
    return this.paged(
      '/v2/_catalog?n=1000',
      'list its repositories',
      (j) => (j as { repositories?: string[] }).repositories ?? [],
    );
  }

  async tags(repository: string): Promise<string[]> {
    return this.paged(
      `/v2/${repository}/tags/list?n=1000`,
      `list the tags of ${repository}`,
      (j) => (j as { tags?: string[] | null }).tags ?? [],
    );
  }

  /** Every repository that has at least one tag, named as a person writes it (`library/redis` → `redis`). */
  async listImages(): Promise<ImageInfo[]> {
    const images: ImageInfo[] = [];
    for (const repository of await this.repositories()) {
      const tags = (await this.tags(repository)).sort();
      if (tags.length > 0) images.push({ repository: displayRepository(repository), tags });
    }
    return images.sort((a, b) => a.repository.localeCompare(b.repository));
  }

  /** Deletes the manifest a tag points to (every tag sharing it goes too); blobs stay until a garbage collection. */
  async deleteImage(ref: ImageReference): Promise<void> {
    const manifest = await this.getManifest(ref.repository, ref.tag);
    if (!manifest)
      throw new NotFoundError(`The registry has no image ${displayRepository(ref.repository)}:${ref.tag}.`);
    const res = await this.request('DELETE', `/v2/${ref.repository}/manifests/${manifest.digest}`);
    if (res.status !== 202) throw this.fail(`delete ${displayRepository(ref.repository)}:${ref.tag}`, res);
  }

  /**
   * Pushes an image read from a tarball: blobs first (skipping those the registry already has),
   * then the schema2 manifest under the tag. Pushing the same image again uploads nothing.
   */
  async pushImage(
    ref: ImageReference,
    image: ImageTarballInfo,
    layers: PreparedLayer[],
    onProgress?: (p: PushProgress) => void,
  ): Promise<PushResult> {
    const { repository, tag } = ref;
    const bytesTotal = image.config.length + layers.reduce((n, l) => n + l.size, 0);
    const layersTotal = layers.length;
    let bytesDone = 0;
    let layersDone = 0;
    let layersPushed = 0;
    let layersSkipped = 0;
    const report = (phase: PushProgress['phase']): void =>
      onProgress?.({ phase, bytesDone, bytesTotal, layersDone, layersTotal });

    const seen = new Set<string>();
    for (const layer of layers) {
      report('uploading');
      if (seen.has(layer.digest) || (await this.hasBlob(repository, layer.digest))) {
        layersSkipped++;
      } else {
        await this.uploadBlob(repository, layer.digest, layer.size, () => {
          const stream = createReadStream(layer.filePath);
          stream.on('data', (chunk) => {
            bytesDone += chunk.length;
            report('uploading');
          });
          return stream;
        });
        layersPushed++;
      }
      seen.add(layer.digest);
      layersDone++;
    }
    if (!(await this.hasBlob(repository, image.configDigest))) {
      await this.uploadBlob(repository, image.configDigest, image.config.length, image.config);
    }
    bytesDone = bytesTotal;

    const manifest: ManifestV2 = {
      schemaVersion: 2,
      mediaType: DOCKER_MANIFEST_V2,
      config: { mediaType: DOCKER_IMAGE_CONFIG, size: image.config.length, digest: image.configDigest },
      layers: layers.map((l) => ({ mediaType: l.mediaType, size: l.size, digest: l.digest })),
    };
    const digest = await this.putManifest(
      repository,
      tag,
      Buffer.from(JSON.stringify(manifest, null, 3)),
      DOCKER_MANIFEST_V2,
    );
    report('done');
    return { repository, tag, digest, layersPushed, layersSkipped };
  }
}
