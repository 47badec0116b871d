import type { ContainerSpec } from '../../common/contracts/instance-spec.js';
import type { Logger } from '../../common/logger.js';
import { NotFoundError, errorMessage } from '../../common/errors.js';
import type { DockerEngine } from '../docker-engine/docker-engine.js';

/**
 * Makes a container's image present on the VM's dockerd: pulled (the registry mirror serves
 * Docker Hub names from the director's registry) or built from the spec's inline Dockerfile.
 */
export class ImageEnsurer {
  constructor(
    private readonly engine: () => DockerEngine,
    private readonly log: Logger,
  ) {}

  async ensure(container: ContainerSpec): Promise<void> {
    if (await this.engine().imageExists(container.image)) return;
    if (container.build) await this.build(container);
    else await this.pull(container);
  }

  private async pull(container: ContainerSpec): Promise<void> {
    const image = container.image;
    this.log.info('pulling image', { image, container: container.name });
    try {
      await this.engine().pullImage(image);
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
    try {
      await this.engine().buildImage(container.image, build.dockerfile);
    } catch (err) {
      throw new NotFoundError(
        `Container "${container.name}": building image "${container.image}" from its Dockerfile failed: ${errorMessage(err)}. Fix the dockerfile in the manifest (its FROM image must be in the director's registry).`,
        { cause: err },
      );
    }
    if (!(await this.engine().imageExists(container.image))) {
      throw new NotFoundError(`Container "${container.name}": the build of image "${container.image}" finished without producing the image; check the dockerfile.`);
    }
  }
}
