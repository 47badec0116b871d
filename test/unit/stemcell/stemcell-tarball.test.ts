import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  compareStemcellVersions,
  openStemcellTarball,
  parseStemcellManifest,
  serializeStemcellManifest,
  type StemcellManifest,
} from '../../../src/stemcell/index.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'bosun-stemcell-test-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function manifest(sha1: string): StemcellManifest {
  return {
    name: 'bosun-debian-12',
    version: '0.1.0-1',
    apiVersion: 3,
    boshProtocol: 1,
    operatingSystem: 'debian-12',
    stemcellFormats: ['general-tar', 'warden-tar'],
    cloudProperties: { infrastructure: 'local' },
    sha1,
  };
}

/** A stemcell tarball made with tar(1), as BOSH tooling makes them. */
function makeTarball(name: string, image: Buffer, mf: string): string {
  const d = path.join(dir, name);
  execFileSync('mkdir', ['-p', d]);
  writeFileSync(path.join(d, 'image'), image);
  writeFileSync(path.join(d, 'stemcell.MF'), mf);
  writeFileSync(path.join(d, 'packages.txt'), 'docker.io 20.10\n');
  const file = path.join(dir, `${name}.tgz`);
  execFileSync('tar', ['-czf', file, '-C', d, 'image', 'stemcell.MF', 'packages.txt']);
  return file;
}

describe('stemcell tarball', () => {
  const image = Buffer.from('pretend this is a gzipped root filesystem');
  const sha1 = createHash('sha1').update(image).digest('hex');

  it('extracts the image and reads stemcell.MF when the sha1 matches', async () => {
    const file = makeTarball('good', image, serializeStemcellManifest(manifest(sha1)));
    const out = path.join(dir, 'good.image');
    const opened = await openStemcellTarball(file, out);
    expect(opened.manifest).toEqual(manifest(sha1));
    expect(opened.imageSizeBytes).toBe(image.length);
    expect(opened.packages).toContain('docker.io');
    expect(existsSync(out)).toBe(true);
  });

  it('refuses an image whose sha1 differs from stemcell.MF, and removes what it extracted', async () => {
    const file = makeTarball('bad', Buffer.from('changed'), serializeStemcellManifest(manifest(sha1)));
    const out = path.join(dir, 'bad.image');
    await expect(openStemcellTarball(file, out)).rejects.toThrow(/does not match its stemcell\.MF.*damaged/);
    expect(existsSync(out)).toBe(false);
  });

  it('refuses a file that is not a stemcell', async () => {
    const file = path.join(dir, 'not.tgz');
    writeFileSync(file, 'hello');
    await expect(openStemcellTarball(file, path.join(dir, 'not.image'))).rejects.toThrow(/not a stemcell tarball/);
  });
});

describe('stemcell.MF', () => {
  it('reads BOSH stemcell manifests (numeric version, sha1: prefix)', () => {
    const m = parseStemcellManifest(
      `name: bosh-warden-boshlite-ubuntu-jammy-go_agent\nversion: 1.123\napi_version: 3\nbosh_protocol: '1'\n` +
        `sha1: sha1:${'A'.repeat(40)}\noperating_system: ubuntu-jammy\nstemcell_formats: [warden-tar]\ncloud_properties: {}\n`,
    );
    expect(m.version).toBe('1.123');
    expect(m.sha1).toBe('a'.repeat(40));
  });

  it('says what is missing', () => {
    expect(() => parseStemcellManifest('name: x\nversion: 1\n')).toThrow(/operating_system.*sha1|sha1.*operating_system/);
  });

  it('orders versions numerically part by part', () => {
    const sorted = ['1.10', '1.9', '0.1.0-20261201120000', '0.1.0-20261130000000', '2'].sort(compareStemcellVersions);
    expect(sorted).toEqual(['0.1.0-20261130000000', '0.1.0-20261201120000', '1.9', '1.10', '2']);
  });
});
