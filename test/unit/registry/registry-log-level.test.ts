import { describe, expect, it } from 'vitest';
import { registryLineLevel } from '../../../src/registry/registry-server.js';

describe('registryLineLevel', () => {
  it('keeps normal traffic at debug: access lines, info, and the 404s of HEAD probes', () => {
    expect(registryLineLevel('time="2026-11-24T21:00:00Z" level=info msg="response completed" http.request.method=GET')).toBe('debug');
    expect(registryLineLevel('10.244.0.2 - - [24/Nov/2026:21:00:00 +0000] "HEAD /v2/library/redis/blobs/sha256:ab HTTP/1.1" 404 157 "" "docker/20.10"')).toBe('debug');
    expect(
      registryLineLevel(
        'time="2026-11-24T21:00:00Z" level=error msg="response completed with error" err.code="blob unknown" err.message="blob unknown to registry" http.request.method=HEAD http.response.status=404',
      ),
    ).toBe('debug');
    expect(registryLineLevel('level=error msg="response completed with error" err.code="manifest unknown" http.response.status=404')).toBe('debug');
  });

  it('warns about real errors', () => {
    expect(registryLineLevel('level=error msg="response completed with error" err.code=unknown err.message="filesystem: no space left on device" http.response.status=500')).toBe('warn');
    expect(registryLineLevel('level=fatal msg="listen tcp 10.244.0.1:25556: bind: address already in use"')).toBe('warn');
    expect(registryLineLevel('level=panic msg="boom"')).toBe('warn');
  });
});
