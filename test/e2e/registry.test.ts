import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../src/common/errors.js';
import { silentLogger } from '../../src/common/logger.js';
import { createCertificateAuthority, issueCertificate } from '../../src/common/pki.js';
import { readImageTarball } from '../../src/registry/image-tarball.js';
import {
  DOCKER_IMAGE_CONFIG,
  DOCKER_MANIFEST_V2,
  RegistryClient,
} from '../../src/registry/registry-client.js';
import type { ManifestV2 } from '../../src/registry/registry-client.js';
import { RegistryServer } from '../../src/registry/registry-server.js';
import { listRegistryImages, uploadImageTarball } from '../../src/registry/upload-image.js';
import { freePort } from '../helpers/free-port.js';
import { makeLayer, writeDockerSaveTarball } from '../helpers/image-tarball-fixture.js';

// A real Debian docker-registry child on 127.0.0.1, TLS from a fresh bosun CA.
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const busyboxTar = path.join(repoRoot, 'build/images/busybox.tar');
const sha = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

describe('embedded registry (real docker-registry)', () => {
  let dir: string;
  let server: RegistryServer | undefined;
  let client: RegistryClient | undefined;
  let caPem: string;

  beforeAll(async () => {
    if (!existsSync(busyboxTar))
      execFileSync(path.join(repoRoot, 'scripts/build-images.sh'), { stdio: 'inherit' });
    dir = await mkdtemp(path.join(os.tmpdir(), 'bosun-registry-test-'));
    const ca = createCertificateAuthority('bosun test CA');
    caPem = ca.certPem;
    const cert = issueCertificate(ca, {
      commonName: 'registry',
      ipAddresses: ['127.0.0.1'],
      usage: 'server',
    });
    server = await RegistryServer.create({
      dataDir: dir,
      host: '127.0.0.1',
      port: await freePort(),
      tls: { certPem: cert.certPem, keyPem: cert.keyPem, caPem },
      logger: silentLogger,
    });
    client = new RegistryClient({ registryUrl: server.url, caPem, authorization: server.writeAuthorization });
  });

  afterAll(async () => {
    client?.close();
    await server?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const writeAuth = (): string => server?.writeAuthorization ?? '';
  const registry = (): { server: RegistryServer; client: RegistryClient } => {
    if (!server || !client) throw new Error('registry not started');
    return { server, client };
  };

  it('serves /v2/ over TLS trusted through the CA only', async () => {
    const { server, client } = registry();
    expect(server.state).toBe('running');
    expect(server.url).toBe(`https://${server.hostPort}`);
    await client.ping();
    const stranger = new RegistryClient({
      registryUrl: server.url,
      caPem: createCertificateAuthority('other CA').certPem,
    });
    await expect(stranger.ping()).rejects.toThrow(/image registry at .* (cannot be trusted|is not reachable)/);
    stranger.close();
  });

  it('pushes busybox.tar as library/busybox:latest with gzip layers and a schema2 manifest', async () => {
    const { server, client } = registry();
    const progress: number[] = [];
    const result = await uploadImageTarball({ authorization: writeAuth(),
      registryUrl: server.url,
      caPem,
      tarPath: busyboxTar,
      onProgress: (p) => progress.push(p.layersDone),
    });
    expect(result).toMatchObject({ repository: 'busybox', tag: 'latest', layersPushed: 1, layersSkipped: 0 });
    expect(progress.length).toBeGreaterThan(0);

    const manifest = await client.getManifest('library/busybox', 'latest');
    expect(manifest?.mediaType).toBe(DOCKER_MANIFEST_V2);
    expect(manifest?.digest).toBe(result.digest);
    expect(sha(manifest?.body ?? Buffer.alloc(0))).toBe(result.digest);
    const m = JSON.parse(manifest?.body.toString('utf8') ?? '{}') as ManifestV2;
    expect(m.config.mediaType).toBe(DOCKER_IMAGE_CONFIG);
    expect(m.layers).toHaveLength(1);

    const info = await readImageTarball(busyboxTar);
    const config = await client.getBlob('library/busybox', m.config.digest);
    expect(sha(config)).toBe(info.configDigest);
    expect(config.equals(info.config)).toBe(true);
    const layer = m.layers[0];
    expect(layer?.mediaType).toBe('application/vnd.docker.image.rootfs.diff.tar.gzip');
    const blob = await client.getBlob('library/busybox', layer?.digest ?? '');
    expect(sha(blob)).toBe(layer?.digest);
    expect(blob.length).toBe(layer?.size);
    expect(blob.subarray(0, 2).equals(Buffer.from([0x1f, 0x8b]))).toBe(true);
    // The config's diff_id stays the digest of the uncompressed layer.
    expect(sha(gunzipSync(blob))).toBe(info.diffIds[0]);
  });

  it('uploads nothing on a second push of the same tarball', async () => {
    const { server } = registry();
    const again = await uploadImageTarball({ authorization: writeAuth(), registryUrl: server.url, caPem, tarPath: busyboxTar });
    expect(again).toMatchObject({ repository: 'busybox', tag: 'latest', layersPushed: 0, layersSkipped: 1 });
  });

  it('takes --name over the tarball tag and reuses blobs already in the repository', async () => {
    const { server, client } = registry();
    const first = await uploadImageTarball({ authorization: writeAuth(),
      registryUrl: server.url,
      caPem,
      tarPath: busyboxTar,
      name: 'busybox:1.35',
    });
    expect(first).toMatchObject({ repository: 'busybox', tag: '1.35', layersPushed: 0, layersSkipped: 1 });
    const other = await uploadImageTarball({ authorization: writeAuth(),
      registryUrl: server.url,
      caPem,
      tarPath: busyboxTar,
      name: 'acme/tools',
    });
    expect(other).toMatchObject({ repository: 'acme/tools', tag: 'latest', layersPushed: 1 });
    expect((await client.getManifest('acme/tools', 'latest'))?.digest).toBe(first.digest);
    await expect(
      uploadImageTarball({ authorization: writeAuth(), registryUrl: server.url, caPem, tarPath: busyboxTar, name: 'host:5000/x:1' }),
    ).rejects.toThrow(/names the registry "host:5000"/);
  });

  it('pushes a multi-layer synthetic image and lists every image the way a person names it', async () => {
    const { server } = registry();
    const tarPath = path.join(dir, 'synthetic.tar');
    const layers = [
      await makeLayer([{ name: 'a', content: 'one' }]),
      await makeLayer([{ name: 'b', content: 'two' }]),
    ];
    await writeDockerSaveTarball(tarPath, { repoTags: ['docker.io/demo/web:2'], layers });
    const pushed = await uploadImageTarball({ authorization: writeAuth(), registryUrl: server.url, caPem, tarPath });
    expect(pushed).toMatchObject({ repository: 'demo/web', tag: '2', layersPushed: 2, layersSkipped: 0 });

    const images = await listRegistryImages({ registryUrl: server.url, caPem });
    expect(images).toEqual([
      { repository: 'acme/tools', tags: ['latest'] },
      { repository: 'busybox', tags: ['1.35', 'latest'] },
      { repository: 'demo/web', tags: ['2'] },
    ]);
  });

  it('refuses a bad tarball and an untagged one with clear errors', async () => {
    const { server } = registry();
    const notImage = path.join(dir, 'not-image.tar');
    await writeDockerSaveTarball(notImage, {
      repoTags: [],
      layers: [await makeLayer([{ name: 'x', content: 'x' }])],
    });
    await expect(uploadImageTarball({ authorization: writeAuth(), registryUrl: server.url, caPem, tarPath: notImage })).rejects.toThrow(
      /carries no name; give one with --name/,
    );
    await expect(
      uploadImageTarball({ authorization: writeAuth(), registryUrl: server.url, caPem, tarPath: path.join(dir, 'nope.tar') }),
    ).rejects.toThrow(InvalidInputError);
  });

  it('refuses anonymous and wrongly authenticated writes and deletes; anonymous pulls work', async () => {
    const { server } = registry();
    const anonymous = new RegistryClient({ registryUrl: server.url, caPem });
    const wrong = new RegistryClient({ registryUrl: server.url, caPem, authorization: 'Basic Ym9zdW4tZGlyZWN0b3I6Z3Vlc3M=' });
    try {
      const manifest = await anonymous.getManifest('library/busybox', 'latest');
      expect(manifest?.mediaType).toBe(DOCKER_MANIFEST_V2);
      const layer = (JSON.parse(manifest?.body.toString('utf8') ?? '{}') as ManifestV2).layers[0]?.digest ?? '';
      expect((await anonymous.getBlob('library/busybox', layer)).length).toBeGreaterThan(0);
      expect(await anonymous.hasBlob('library/busybox', layer)).toBe(true);
      for (const who of [anonymous, wrong]) {
        const attempts: Array<[string, string]> = [
          ['POST', '/v2/library/busybox/blobs/uploads/'],
          ['PUT', '/v2/library/busybox/manifests/latest'],
          ['PATCH', '/v2/library/busybox/blobs/uploads/some-upload'],
          ['DELETE', `/v2/library/busybox/manifests/${manifest?.digest ?? ''}`],
          ['DELETE', `/v2/library/busybox/blobs/${layer}`],
        ];
        for (const [method, url] of attempts) {
          const res = await who.request(method, url, { headers: { 'Content-Length': 2 }, body: Buffer.from('{}') });
          expect(res.status, `${method} ${url}`).toBe(401);
          expect(res.body.toString('utf8')).toMatch(/UNAUTHORIZED.*director's credentials/);
        }
        await expect(who.deleteImage({ repository: 'library/busybox', tag: 'latest' })).rejects.toThrow(/refused.*HTTP 401/);
      }
      await expect(
        uploadImageTarball({ registryUrl: server.url, caPem, tarPath: busyboxTar, name: 'evil/busybox:1' }),
      ).rejects.toThrow(/HTTP 401/);
      // Nothing changed.
      expect((await anonymous.getManifest('library/busybox', 'latest'))?.digest).toBe(manifest?.digest);
      expect(await anonymous.getManifest('evil/busybox', '1')).toBeNull();
    } finally {
      anonymous.close();
      wrong.close();
    }
  });

  it('deletes an image by tag', async () => {
    const { client } = registry();
    await client.deleteImage({ repository: 'acme/tools', tag: 'latest' });
    expect(await client.getManifest('acme/tools', 'latest')).toBeNull();
    expect((await client.listImages()).map((i) => i.repository)).not.toContain('acme/tools');
  });

  it("fails at start with the registry's own reason when the port is taken", async () => {
    const blocker = net.createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const address = blocker.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    const ca = createCertificateAuthority('busy CA');
    const cert = issueCertificate(ca, {
      commonName: 'registry',
      ipAddresses: ['127.0.0.1'],
      usage: 'server',
    });
    const busyDir = await mkdtemp(path.join(dir, 'busy-'));
    try {
      await expect(
        RegistryServer.create({
          dataDir: busyDir,
          host: '127.0.0.1',
          port,
          tls: cert,
          logger: silentLogger,
          startTimeoutMs: 10_000,
        }),
      ).rejects.toThrow(/could not listen on 127\.0\.0\.1:\d+: address already in use/);
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });

  it('restarts the registry when it dies', async () => {
    const { server, client } = registry();
    const pid = server.pid;
    expect(pid).toBeGreaterThan(0);
    process.kill(pid ?? 0, 'SIGKILL');
    const deadline = Date.now() + 15_000;
    let healthy = false;
    while (Date.now() < deadline && !healthy) {
      await new Promise((r) => setTimeout(r, 200));
      healthy = server.state === 'running' && (await server.isHealthy());
    }
    expect(healthy).toBe(true);
    // Storage survives a restart.
    expect((await client.getManifest('library/busybox', 'latest'))?.mediaType).toBe(DOCKER_MANIFEST_V2);
  });
});
