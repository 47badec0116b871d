/**
 * The port through which the director uses its image registry (src/registry/ implements it).
 * Tests pass a fake; a director without a registry lists no images and refuses uploads clearly.
 */
import type { ImageInfo } from '../common/contracts/api.js';

export interface ImageRegistry {
  /** host:port the VMs' dockerd use as registry mirror. */
  readonly host: string;
  listImages(): Promise<ImageInfo[]>;
  /**
   * Pushes a `docker save`/OCI tarball; `name` (repo:tag) overrides the name inside the tarball.
   * Returns the images pushed. `progress` receives short human-readable steps; a `transient` one
   * only tells how far it got (with `percent`) and is superseded by the next.
   */
  uploadImage(
    tarPath: string,
    name: string | undefined,
    progress: (message: string, detail?: { percent?: number; transient?: boolean }) => void,
  ): Promise<ImageInfo[]>;
}
