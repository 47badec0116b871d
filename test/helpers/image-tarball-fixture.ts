import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import tar from 'tar-stream';

/** Small synthetic image tarballs (docker save and OCI layout) for registry tests. */
export interface FixtureFile {
  name: string;
  content: string | Buffer;
}

async function packToBuffer(
  files: Array<{ name: string; content?: Buffer; linkname?: string }>,
): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = new Promise<Buffer>((resolve, reject) => {
    pack.on('data', (c: unknown) => chunks.push(c as Buffer));
    pack.on('end', () => resolve(Buffer.concat(chunks)));
    pack.on('error', reject);
  });
  for (const f of files) {
    if (f.linkname !== undefined)
      pack.entry({ name: f.name, type: 'symlink', linkname: f.linkname, mtime: new Date(0) });
    else pack.entry({ name: f.name, mtime: new Date(0), mode: 0o644 }, f.content ?? Buffer.alloc(0));
  }
  pack.finalize();
  return done;
}

export function sha256Hex(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** A layer tarball holding the given files. */
export async function makeLayer(files: FixtureFile[]): Promise<Buffer> {
  return packToBuffer(files.map((f) => ({ name: f.name, content: Buffer.from(f.content) })));
}

export interface DockerSaveOptions {
  repoTags?: string[];
  layers: Buffer[];
  cmd?: string[];
  /** Reference the last layer a second time through a symlink, as `docker save` does for duplicates. */
  duplicateLastLayerViaSymlink?: boolean;
}

/** A `docker save` style tarball; returns its path's content and the config digest. */
export async function writeDockerSaveTarball(
  tarPath: string,
  options: DockerSaveOptions,
): Promise<{ configDigest: string; diffIds: string[] }> {
  const layers = [...options.layers];
  const diffIds = layers.map((l) => `sha256:${sha256Hex(l)}`);
  const layerNames = layers.map((l) => `${sha256Hex(l)}/layer.tar`);
  const files: Array<{ name: string; content?: Buffer; linkname?: string }> = layers.map((l, i) => ({
    name: layerNames[i] ?? '',
    content: l,
  }));
  if (options.duplicateLastLayerViaSymlink && layers.length > 0) {
    const last = layers[layers.length - 1] as Buffer;
    diffIds.push(`sha256:${sha256Hex(last)}`);
    layerNames.push('dup/layer.tar');
    files.push({ name: 'dup/layer.tar', linkname: `../${sha256Hex(last)}/layer.tar` });
  }
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: { Cmd: options.cmd ?? ['sh'], Env: ['PATH=/bin'] },
      rootfs: { type: 'layers', diff_ids: diffIds },
    }),
  );
  const configName = `${sha256Hex(config)}.json`;
  files.push({ name: configName, content: config });
  files.push({
    name: 'manifest.json',
    content: Buffer.from(
      JSON.stringify([{ Config: configName, RepoTags: options.repoTags ?? [], Layers: layerNames }]),
    ),
  });
  await writeFile(tarPath, await packToBuffer(files));
  return { configDigest: `sha256:${sha256Hex(config)}`, diffIds };
}

/** An OCI image layout tarball (index.json + blobs/sha256/...), uncompressed layers. */
export async function writeOciLayoutTarball(
  tarPath: string,
  options: { name?: string; layers: Buffer[] },
): Promise<{ configDigest: string }> {
  const blobs = new Map<string, Buffer>();
  const add = (b: Buffer): string => {
    blobs.set(sha256Hex(b), b);
    return `sha256:${sha256Hex(b)}`;
  };
  const layerDescs = options.layers.map((l) => ({
    mediaType: 'application/vnd.oci.image.layer.v1.tar',
    size: l.length,
    digest: add(l),
  }));
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: {},
      rootfs: { type: 'layers', diff_ids: layerDescs.map((d) => d.digest) },
    }),
  );
  const configDigest = add(config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: {
        mediaType: 'application/vnd.oci.image.config.v1+json',
        size: config.length,
        digest: configDigest,
      },
      layers: layerDescs,
    }),
  );
  const manifestDigest = add(manifest);
  const index = {
    schemaVersion: 2,
    manifests: [
      {
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        size: manifest.length,
        digest: manifestDigest,
        ...(options.name ? { annotations: { 'io.containerd.image.name': options.name } } : {}),
      },
    ],
  };
  const files = [
    { name: 'oci-layout', content: Buffer.from('{"imageLayoutVersion":"1.0.0"}') },
    { name: 'index.json', content: Buffer.from(JSON.stringify(index)) },
    ...[...blobs].map(([hex, content]) => ({ name: `blobs/sha256/${hex}`, content })),
  ];
  await writeFile(tarPath, await packToBuffer(files));
  return { configDigest };
}
