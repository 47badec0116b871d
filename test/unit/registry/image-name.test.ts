import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../../src/common/errors.js';
import { displayImageName, displayRepository, parseImageName } from '../../../src/registry/image-name.js';

describe('parseImageName', () => {
  it('names official images the Docker Hub way', () => {
    expect(parseImageName('redis:7')).toEqual({ repository: 'library/redis', tag: '7' });
    expect(parseImageName('busybox')).toEqual({ repository: 'library/busybox', tag: 'latest' });
  });

  it('keeps namespaced names and deep paths', () => {
    expect(parseImageName('acme/web:1')).toEqual({ repository: 'acme/web', tag: '1' });
    expect(parseImageName('acme/team/web')).toEqual({ repository: 'acme/team/web', tag: 'latest' });
  });

  it('refuses a name with a registry host, saying what to use instead', () => {
    expect(() => parseImageName('host:5000/x:1')).toThrow(InvalidInputError);
    expect(() => parseImageName('host:5000/x:1')).toThrow(/names the registry "host:5000".*"x:1"/);
    expect(() => parseImageName('quay.io/acme/web')).toThrow(/quay\.io/);
    expect(() => parseImageName('localhost/web')).toThrow(/localhost/);
  });

  it('strips docker.io only when asked (tags read from a tarball)', () => {
    expect(() => parseImageName('docker.io/library/redis:7')).toThrow(InvalidInputError);
    expect(parseImageName('docker.io/library/redis:7', { allowDockerHubHost: true })).toEqual({
      repository: 'library/redis',
      tag: '7',
    });
    expect(parseImageName('docker.io/redis', { allowDockerHubHost: true })).toEqual({
      repository: 'library/redis',
      tag: 'latest',
    });
  });

  it('refuses digests, upper case and bad tags', () => {
    expect(() => parseImageName('redis@sha256:' + 'a'.repeat(64))).toThrow(/digest/);
    expect(() => parseImageName('Redis:7')).toThrow(/lower-case/);
    expect(() => parseImageName('redis:-bad')).toThrow(/tag "-bad"/);
    expect(() => parseImageName('')).toThrow(/empty/);
  });
});

describe('displayRepository', () => {
  it('shows library images without the library/ prefix', () => {
    expect(displayRepository('library/redis')).toBe('redis');
    expect(displayRepository('acme/web')).toBe('acme/web');
    expect(displayRepository('library/x/y')).toBe('library/x/y');
    expect(displayImageName({ repository: 'library/redis', tag: '7' })).toBe('redis:7');
  });
});
