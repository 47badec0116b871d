import type Docker from 'dockerode';
import tar from 'tar-stream';
import type { ContainerSpec } from '../../common/contracts/instance-spec.js';
import type { Logger } from '../../common/logger.js';
import { NotFoundError, errorMessage } from '../../common/errors.js';

/**
 * Makes a container's image present on the VM's dockerd: pulled (the registry mirror serves
 * Docker Hub names from the director's registry) or built from the spec's inline Dockerfile.
 */
export class ImageEnsurer {
  constructor(
    private readonly docker: () => Docker,
    private readonly log: Logger,
  ) {}

  async ensure(container: ContainerSpec): Promise<void> {
    if (await this.exists(container.image)) return;
    if (container.build) await this.build(container);
    else await this.pull(container);
  }

  private async exists(image: string): Promise<boolean> {
    try {
      await this.docker().getImage(image).inspect();
      return true;
    } catch {
      return false;
    }
  }

  private async pull(container: ContainerSpec): Promise<void> {
    const image = container.image;
    this.log.info('pulling image', { image, container: container.name });
    try {
      const stream = await this.docker().pull(image);
      await this.follow(stream);
    } catch (err) {
      throw new NotFoundError(
        `Container "${container.name}": image "${image}" could not be pulled (${errorMessage(err)}); upload it with \`bosun upload-image\` or fix the image name in the manifest.`,
        { cause: err },
      );
    }
  }

  private async build(container: ContainerSpec): Promise<void> {
    const build = container.build;
    if (!build) return;
    this.log.info('building image', { image: container.image, container: container.name });
    const pack = tar.pack();
    pack.entry({ name: 'Dockerfile' }, build.dockerfile);
    pack.finalize();
    try {
      const stream = await this.docker().buildImage(pack as unknown as NodeJS.ReadableStream, { t: container.image, rm: true, forcerm: true });
      await this.follow(stream);
    } catch (err) {
      throw new NotFoundError(
        `Container "${container.name}": building image "${container.image}" from its Dockerfile failed: ${errorMessage(err)}. Fix the dockerfile in the manifest (its FROM image must be in the director's registry).`,
        { cause: err },
      );
    }
    if (!(await this.exists(container.image))) {
      throw new NotFoundError(`Container "${container.name}": the build of image "${container.image}" finished without producing the image; check the dockerfile.`);
    }
  }

  /** Reads a pull/build progress stream to its end; an `error` line in it is a failure. */
  private follow(stream: NodeJS.ReadableStream): Promise<void> {
    return new Promise((resolve, reject) => {
      this.docker().modem.followProgress(
        stream,
        (err: Error | null, output: Array<{ error?: string; errorDetail?: { message?: string } }>) => {
          if (err) return reject(err);
          const bad = output.find((o) => o.error !== undefined || o.errorDetail !== undefined);
          if (bad) return reject(new Error(bad.errorDetail?.message ?? bad.error ?? 'unknown error'));
          resolve();
        },
      );
    });
  }
}
