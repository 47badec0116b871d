import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { FastifyRequest } from 'fastify';
import { InvalidInputError, TimeoutError } from '../../../common/errors.js';
import type { DirectorService } from '../../director-service.js';
import { checkUploadSpace, formatBytes, PayloadTooLargeError, type ApiLimits } from '../limits.js';
import { objectSchema, type RouteSpec } from '../route-spec.js';

/** Media types accepted for an image tarball; the body is streamed to disk, never buffered. */
export const TARBALL_MEDIA_TYPES = ['application/x-tar', 'application/octet-stream'];

export interface ImageRoutesOptions {
  /** Where uploaded tarballs are streamed before the upload task takes them. */
  uploadDir: string;
  /** The registry's blob storage: an upload ends up there too (checked for room before accepting it). */
  registryStorageDir?: string;
  limits: Pick<ApiLimits, 'uploadMaxBytes' | 'uploadIdleTimeoutMs'>;
}

/**
 * Images in the director's registry. The upload streams the request body to a file under
 * `uploadDir` and hands the file to the director's upload task, which owns it from then on.
 * Before it reads a byte, it refuses a tarball larger than the configured maximum or one the
 * disk has no room for: the tarball and its compressed layers in `uploadDir`, the registry's
 * copy in its storage.
 */
export function imageRoutes(director: DirectorService, options: ImageRoutesOptions): RouteSpec[] {
  const { uploadDir, limits } = options;
  return [
    {
      method: 'GET',
      url: '/api/v1/images',
      tag: 'images',
      auth: 'token',
      summary: "Images in the director's registry",
      response: 'ImageInfo[]',
      handler: () => director.listImages(),
    },
    {
      method: 'POST',
      url: '/api/v1/images',
      tag: 'images',
      auth: 'token',
      bodyMediaType: 'application/x-tar',
      upload: true,
      querystring: objectSchema({
        name: { type: 'string', pattern: '^[a-z0-9][a-z0-9._/-]*(:[A-Za-z0-9_][A-Za-z0-9_.-]*)?$' },
      }),
      summary: 'Upload a `docker save` tarball into the registry (a task)',
      response: 'TaskRef',
      handler: async (req, { user }) => {
        const body = req.body as Readable | undefined;
        if (!body || typeof body.pipe !== 'function') {
          throw new InvalidInputError(
            'Send the image as a `docker save` tarball with Content-Type: application/x-tar.',
          );
        }
        const declared = declaredLength(req);
        if (declared !== undefined) {
          if (declared > limits.uploadMaxBytes) throw tooLarge(declared, limits.uploadMaxBytes);
          await checkUploadSpace(declared, [
            { dir: uploadDir, factor: 2, what: 'the tarball and its compressed layers' },
            ...(options.registryStorageDir === undefined
              ? []
              : [{ dir: options.registryStorageDir, factor: 1, what: "the registry's copy" }]),
          ]);
        }
        await mkdir(uploadDir, { recursive: true, mode: 0o700 });
        const file = join(uploadDir, `${randomUUID()}.tar`);
        try {
          await pipeline(
            body,
            new UploadGuard(limits.uploadMaxBytes, limits.uploadIdleTimeoutMs),
            createWriteStream(file, { mode: 0o600 }),
          );
          const name = (req.query as { name?: string }).name;
          return { task: await director.uploadImage(file, name, user) };
        } catch (err) {
          await rm(file, { force: true });
          throw err;
        }
      },
    },
  ];
}

function declaredLength(req: FastifyRequest): number | undefined {
  const header = req.headers['content-length'];
  if (header === undefined) return undefined;
  const n = Number(header);
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

function tooLarge(bytes: number | undefined, max: number): PayloadTooLargeError {
  return new PayloadTooLargeError(
    `The image tarball${bytes === undefined ? '' : ` (${formatBytes(bytes)})`} is larger than this director accepts (${formatBytes(max)}); raise api.upload_max_size in the director config, or upload a smaller image.`,
  );
}

/**
 * Passes the upload through while counting it: fails once it exceeds the maximum (a body sent
 * without Content-Length, or a longer one than declared) or when no byte arrived for `idleMs`.
 */
class UploadGuard extends Transform {
  private bytes = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly maxBytes: number,
    private readonly idleMs: number,
  ) {
    super();
    this.arm();
  }

  private arm(): void {
    if (this.idleMs <= 0) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.destroy(
        new TimeoutError(
          `The upload stalled: no data arrived for ${Math.round(this.idleMs / 1000)}s after ${formatBytes(this.bytes)}; check the connection and upload again.`,
        ),
      );
    }, this.idleMs);
    this.timer.unref();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.maxBytes) {
      done(tooLarge(undefined, this.maxBytes));
      return;
    }
    this.arm();
    done(null, chunk);
  }

  override _flush(done: TransformCallback): void {
    clearTimeout(this.timer);
    done();
  }

  override _destroy(err: Error | null, done: (error?: Error | null) => void): void {
    clearTimeout(this.timer);
    done(err);
  }
}
