import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { InvalidInputError } from '../../../common/errors.js';
import type { DirectorService } from '../../director-service.js';
import { objectSchema, type RouteSpec } from '../route-spec.js';

/** Media types accepted for an image tarball; the body is streamed to disk, never buffered. */
export const TARBALL_MEDIA_TYPES = ['application/x-tar', 'application/octet-stream'];

/**
 * Images in the director's registry. The upload streams the request body to a file under
 * `uploadDir` and hands the file to the director's upload task, which owns it from then on.
 */
export function imageRoutes(director: DirectorService, uploadDir: string): RouteSpec[] {
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
        await mkdir(uploadDir, { recursive: true, mode: 0o700 });
        const file = join(uploadDir, `${randomUUID()}.tar`);
        try {
          await pipeline(body, createWriteStream(file, { mode: 0o600 }));
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
