import { rm } from 'node:fs/promises';
import { resolve, sep } from 'node:path';
import type { ImageInfo } from '../../common/contracts/api.js';
import type { ImageRegistry } from '../image-registry.js';
import { RegistryClient } from '../../registry/registry-client.js';
import { uploadImageTarball, uploadProgressLines } from '../../registry/upload-image.js';

export interface RegistryAdapterOptions {
  /** host:port the VMs use as registry mirror. */
  hostPort: string;
  caPem: string;
  /** The registry's write credentials (an Authorization header value): pushes need them. */
  authorization: string;
  /** Tarballs under this directory were streamed there by the upload route: deleted once pushed. */
  uploadDir: string;
  workDir: string;
}

/** Binds the director's ImageRegistry port to the embedded registry (src/registry/). */
export function registryAdapter(options: RegistryAdapterOptions): ImageRegistry {
  const registryUrl = `https://${options.hostPort}`;
  const client = new RegistryClient({ registryUrl, caPem: options.caPem, authorization: options.authorization });
  const uploads = resolve(options.uploadDir) + sep;
  return {
    host: options.hostPort,
    listImages: () => client.listImages(),
    async uploadImage(tarPath, name, progress): Promise<ImageInfo[]> {
      // A lasting event per layer; between them transient percentages (a terminal shows them
      // as one updating line, a log leaves them out).
      const lines = uploadProgressLines((line) =>
        progress(line.message, { ...(line.percent === undefined ? {} : { percent: line.percent }), transient: line.transient }),
      );
      try {
        const result = await uploadImageTarball({
          registryUrl,
          caPem: options.caPem,
          authorization: options.authorization,
          tarPath,
          ...(name === undefined ? {} : { name }),
          workDir: options.workDir,
          onProgress: lines.onProgress,
          onLayerPrepared: lines.onLayerPrepared,
        });
        progress(
          `pushed ${result.repository}:${result.tag} (${result.layersPushed} layers pushed, ${result.layersSkipped} already there)`,
        );
        return [{ repository: result.repository, tags: [result.tag] }];
      } finally {
        if (resolve(tarPath).startsWith(uploads)) await rm(tarPath, { force: true });
      }
    },
  };
}
