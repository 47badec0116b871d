import { InvalidInputError } from '../common/errors.js';

/**
 * Image names the Docker Hub way, because every VM's dockerd uses the director's registry as its
 * `--registry-mirror`: dockerd asks a mirror only for Docker Hub names, and it asks for them in
 * their canonical form (`redis:7` → `library/redis`, tag `7`).
 */
export interface ImageReference {
  /** The registry repository, e.g. `library/redis`, `acme/web`. */
  repository: string;
  tag: string;
}

const DOCKER_HUB_HOSTS = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);
// The reference grammar of the distribution project (path components and tags).
const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

/** True when the first path component names a registry host rather than a namespace (Docker's rule). */
function isRegistryHost(component: string): boolean {
  return component.includes('.') || component.includes(':') || component === 'localhost';
}

export interface ParseImageNameOptions {
  /**
   * Accept `docker.io/...` (and its aliases) and strip it. Tags read from a tarball may carry it;
   * a name typed by a person should not name a registry at all.
   */
  allowDockerHubHost?: boolean;
}

/**
 * Parses `NAME[:TAG]` into the repository and tag that the registry stores. Refuses names that
 * point at another registry, digests, and anything the registry would reject, with a sentence
 * that says what to type instead.
 */
export function parseImageName(name: string, options: ParseImageNameOptions = {}): ImageReference {
  const input = name.trim();
  if (input === '')
    throw new InvalidInputError('The image name is empty; give it as NAME:TAG, e.g. redis:7.');
  if (input.includes('@')) {
    throw new InvalidInputError(
      `The image name "${input}" contains a digest; give the name as NAME:TAG (e.g. redis:7) instead.`,
    );
  }
  const lastSlash = input.lastIndexOf('/');
  const colon = input.lastIndexOf(':');
  let path = input;
  let tag = 'latest';
  if (colon > lastSlash) {
    path = input.slice(0, colon);
    tag = input.slice(colon + 1);
  }
  let components = path.split('/');
  const first = components[0] ?? '';
  if (components.length > 1 && isRegistryHost(first)) {
    if (options.allowDockerHubHost && DOCKER_HUB_HOSTS.has(first)) {
      components = components.slice(1);
    } else {
      throw new InvalidInputError(
        `The image name "${input}" names the registry "${first}"; the director's registry only holds Docker Hub style names. ` +
          `Upload it as "${components.slice(1).join('/')}:${tag}" (pass --name) and refer to it by that name in the manifest.`,
      );
    }
  }
  if (components.length === 1) components = ['library', ...components];
  for (const c of components) {
    if (!COMPONENT.test(c)) {
      throw new InvalidInputError(
        `The image name "${input}" is not valid: "${c}" must be lower-case letters and digits, separated by ".", "_", "__" or "-".`,
      );
    }
  }
  if (!TAG.test(tag)) {
    throw new InvalidInputError(
      `The image tag "${tag}" in "${input}" is not valid: use up to 128 letters, digits, "_", "." and "-", not starting with "." or "-".`,
    );
  }
  return { repository: components.join('/'), tag };
}

/** The repository as a person writes it: `library/redis` → `redis`, `acme/web` unchanged. */
export function displayRepository(repository: string): string {
  return repository.startsWith('library/') && repository.split('/').length === 2
    ? repository.slice('library/'.length)
    : repository;
}

/** `redis:7`, `acme/web:1`: the name to use in a manifest. */
export function displayImageName(ref: ImageReference): string {
  return `${displayRepository(ref.repository)}:${ref.tag}`;
}
