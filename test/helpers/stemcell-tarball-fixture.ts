import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { serializeStemcellManifest } from '../../src/stemcell/stemcell-manifest.js';

/**
 * A small stemcell tarball in BOSH's layout whose image is a gzipped tar of `rootfsFiles`
 * (enough for the local cloud's create_stemcell, which wants /usr/sbin/runsvdir-start).
 */
export function makeStemcellTarball(
  dir: string,
  options: { version: string; name?: string; os?: string; rootfsFiles?: Record<string, string>; corruptSha1?: boolean },
): string {
  const work = path.join(dir, `stemcell-${options.version}-${Math.random().toString(36).slice(2)}`);
  const rootfs = path.join(work, 'rootfs');
  const files = options.rootfsFiles ?? { 'usr/sbin/runsvdir-start': '#!/bin/sh\nexit 0\n', 'var/vcap/bosh/etc/stemcell_version': `${options.version}\n` };
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(rootfs, name)), { recursive: true });
    writeFileSync(path.join(rootfs, name), text, { mode: 0o755 });
  }
  execFileSync('tar', ['-czf', path.join(work, 'image'), '-C', rootfs, '.']);
  const sha1 = createHash('sha1').update(readFileSync(path.join(work, 'image'))).digest('hex');
  writeFileSync(
    path.join(work, 'stemcell.MF'),
    serializeStemcellManifest({
      name: options.name ?? 'bosun-debian-12',
      version: options.version,
      apiVersion: 3,
      boshProtocol: 1,
      operatingSystem: options.os ?? 'debian-12',
      stemcellFormats: ['general-tar', 'warden-tar'],
      cloudProperties: { infrastructure: 'local' },
      sha1: options.corruptSha1 ? '0'.repeat(40) : sha1,
    }),
  );
  const file = path.join(dir, `${options.name ?? 'bosun-debian-12'}-${options.version}${options.corruptSha1 ? '-corrupt' : ''}.tgz`);
  execFileSync('tar', ['-czf', file, '-C', work, 'stemcell.MF', 'image']);
  return file;
}
