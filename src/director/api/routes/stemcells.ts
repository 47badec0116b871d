import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { InvalidInputError } from '../../../common/errors.js';
import type { DirectorService } from '../../director-service.js';
import { checkUploadSpace, formatBytes, PayloadTooLargeError, type ApiLimits } from '../limits.js';
import { objectSchema, str, type RouteSpec } from '../route-spec.js';

/** Stemcells: the upload streams the .tgz to a file under `uploadDir`; the upload task owns it from then on. */
export function stemcellRoutes(director: DirectorService, uploadDir: string, limits: Pick<ApiLimits, 'uploadMaxBytes'>): RouteSpec[] {
  return [
    {
      method: 'GET',
      url: '/api/v1/stemcells',
      tag: 'stemcells',
      auth: 'token',
      summary: 'Uploaded stemcells, with the VMs that boot each one',
      response: 'StemcellInfo[]',
      handler: () => director.listStemcells(),
    },
    {
      method: 'POST',
      url: '/api/v1/stemcells',
      tag: 'stemcells',
      auth: 'token',
      bodyMediaType: 'application/x-tar',
      upload: true,
      summary: 'Upload a BOSH stemcell tarball (a task; nothing happens when that name and version is already uploaded)',
      response: 'TaskRef',
      handler: async (req, { user }) => {
        const body = req.body as Readable | undefined;
        if (!body || typeof body.pipe !== 'function') {
          throw new InvalidInputError('Send the stemcell as its .tgz with Content-Type: application/x-tar.');
        }
        const declared = Number(req.headers['content-length']);
        if (Number.isSafeInteger(declared) && declared > 0) {
          if (declared > limits.uploadMaxBytes) {
            throw new PayloadTooLargeError(
              `The stemcell (${formatBytes(declared)}) is larger than this director accepts (${formatBytes(limits.uploadMaxBytes)}); raise api.upload_max_size in the director config.`,
            );
          }
          // The tarball, then its image extracted next to it.
          await checkUploadSpace(declared, [{ dir: uploadDir, factor: 2, what: 'the stemcell tarball and its image' }]);
        }
        await mkdir(uploadDir, { recursive: true, mode: 0o700 });
        const file = join(uploadDir, `${randomUUID()}.stemcell.tgz`);
        try {
          await pipeline(body, createWriteStream(file, { mode: 0o600 }));
          return { task: await director.uploadStemcell(file, user) };
        } catch (err) {
          await rm(file, { force: true });
          throw err;
        }
      },
    },
    {
      method: 'DELETE',
      url: '/api/v1/stemcells/:name/:version',
      tag: 'stemcells',
      auth: 'token',
      params: objectSchema({ name: str, version: str }, ['name', 'version']),
      summary: 'Delete a stemcell (refused with 409 and the list of VMs while a VM boots it)',
      response: 'TaskRef',
      handler: async (req, { user }) => {
        const { name, version } = req.params as { name: string; version: string };
        return { task: await director.deleteStemcell(name, version, user) };
      },
    },
  ];
}
