import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { InvalidInputError } from '../../../src/common/errors.js';
import { DOCKER_LAYER_GZIP, prepareLayers, readImageTarball } from '../../../src/registry/image-tarball.js';
import {
  makeLayer,
  writeDockerSaveTarball,
  writeOciLayoutTarball,
} from '../../helpers/image-tarball-fixture.js';

const sha = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

describe('image tarballs', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'bosun-tarball-test-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads a docker save tarball and gzips its layers, checking diff_ids', async () => {
    const l1 = await makeLayer([{ name: 'bin/hello', content: 'hello' }]);
    const l2 = await makeLayer([{ name: 'etc/motd', content: 'hi there\n'.repeat(1000) }]);
    const tarPath = path.join(dir, 'save.tar');
    const { configDigest, diffIds } = await writeDockerSaveTarball(tarPath, {
      repoTags: ['acme/web:1'],
      layers: [l1, l2],
    });

    const info = await readImageTarball(tarPath);
    expect(info.format).toBe('docker-save');
    expect(info.repoTags).toEqual(['acme/web:1']);
    expect(info.configDigest).toBe(configDigest);
    expect(info.diffIds).toEqual(diffIds);

    const work = await mkdtemp(path.join(dir, 'work-'));
    let bytes = 0;
    const layers = await prepareLayers(tarPath, info, work, (n) => (bytes += n));
    expect(bytes).toBe(l1.length + l2.length);
    expect(layers).toHaveLength(2);
    for (const [i, layer] of layers.entries()) {
      const blob = await readFile(layer.filePath);
      expect(layer.mediaType).toBe(DOCKER_LAYER_GZIP);
      expect(layer.digest).toBe(sha(blob));
      expect(layer.size).toBe(blob.length);
      expect(sha(gunzipSync(blob))).toBe(diffIds[i]);
    }
    // Deterministic gzip: the same layer gives the same blob digest (what makes re-pushes free).
    const again = await prepareLayers(tarPath, info, await mkdtemp(path.join(dir, 'work-')));
    expect(again.map((l) => l.digest)).toEqual(layers.map((l) => l.digest));
  });

  it('follows symlinked duplicate layers', async () => {
    const l1 = await makeLayer([{ name: 'a', content: 'a' }]);
    const tarPath = path.join(dir, 'dup.tar');
    await writeDockerSaveTarball(tarPath, {
      repoTags: ['dup:1'],
      layers: [l1],
      duplicateLastLayerViaSymlink: true,
    });
    const info = await readImageTarball(tarPath);
    expect(info.layers).toHaveLength(2);
    const layers = await prepareLayers(tarPath, info, await mkdtemp(path.join(dir, 'work-')));
    expect(layers[0]?.digest).toBe(layers[1]?.digest);
  });

  it('reads an OCI image layout tarball with its name annotation', async () => {
    const l1 = await makeLayer([{ name: 'x', content: 'x' }]);
    const tarPath = path.join(dir, 'oci.tar');
    const { configDigest } = await writeOciLayoutTarball(tarPath, {
      name: 'docker.io/library/app:2',
      layers: [l1],
    });
    const info = await readImageTarball(tarPath);
    expect(info.format).toBe('oci-layout');
    expect(info.repoTags).toEqual(['docker.io/library/app:2']);
    expect(info.configDigest).toBe(configDigest);
    const layers = await prepareLayers(tarPath, info, await mkdtemp(path.join(dir, 'work-')));
    expect(sha(gunzipSync(await readFile(layers[0]?.filePath ?? '')))).toBe(sha(l1));
  });

  it('rejects what is not an image tarball with an actionable message', async () => {
    const garbage = path.join(dir, 'garbage.tar');
    await writeFile(garbage, 'this is not a tar file at all'.repeat(40));
    await expect(readImageTarball(garbage)).rejects.toThrow(InvalidInputError);
    await expect(readImageTarball(garbage)).rejects.toThrow(/docker save/);
    await expect(readImageTarball(path.join(dir, 'missing.tar'))).rejects.toThrow(
      /Cannot read the image tarball .*missing\.tar/,
    );

    const plain = path.join(dir, 'plain.tar');
    await writeFile(plain, await makeLayer([{ name: 'readme', content: 'x' }]));
    await expect(readImageTarball(plain)).rejects.toThrow(/neither manifest\.json .* nor index\.json/);
  });

  it('detects a corrupt layer', async () => {
    const l1 = await makeLayer([{ name: 'a', content: 'original' }]);
    const tarPath = path.join(dir, 'corrupt.tar');
    const { configDigest } = await writeDockerSaveTarball(tarPath, { repoTags: ['c:1'], layers: [l1] });
    const info = await readImageTarball(tarPath);
    expect(info.configDigest).toBe(configDigest);
    const tampered = { ...info, diffIds: [`sha256:${'0'.repeat(64)}`] };
    await expect(prepareLayers(tarPath, tampered, await mkdtemp(path.join(dir, 'work-')))).rejects.toThrow(
      /corrupt layer/,
    );
  });

  it('holds no layer in memory while reading: only the JSON documents', async () => {
    // 24 layers of 1 MiB each, each one file of non-JSON bytes (a layer is a tar: it never starts with "{").
    const layers = await Promise.all(
      Array.from({ length: 24 }, (_, i) => makeLayer([{ name: `data/${i}.bin`, content: String(i).repeat(1024 * 1024) }])),
    );
    const tarPath = path.join(dir, 'many-layers.tar');
    const { configDigest } = await writeDockerSaveTarball(tarPath, { repoTags: ['many:1'], layers });
    const concat = vi.spyOn(Buffer, 'concat');
    try {
      const info = await readImageTarball(tarPath);
      expect(info.configDigest).toBe(configDigest);
      expect(info.layers).toHaveLength(24);
      const held = concat.mock.results.reduce((n, r) => n + ((r.value as Buffer | undefined)?.length ?? 0), 0);
      expect(held).toBeLessThan(256 * 1024);
    } finally {
      concat.mockRestore();
    }
  });
});
