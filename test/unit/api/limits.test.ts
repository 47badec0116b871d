import { request } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkUploadSpace, parseSize } from '../../../src/director/api/limits.js';
import { capLogs } from '../../../src/director/api/log-cap.js';
import { call, startTestServer, type TestServer } from './test-server.js';

const MiB = 1024 * 1024;

/** Sends a body in chunks with a pause between them; resolves with the status, or 'reset' when the server cut it. */
function slowRequest(
  srv: TestServer,
  method: string,
  path: string,
  chunks: Buffer[],
  pauseMs: number,
  headers: Record<string, string | number>,
): Promise<{ status: number | 'reset'; text: string }> {
  return new Promise((resolve) => {
    const total = chunks.reduce((n, c) => n + c.length, 0);
    const req = request(
      {
        host: '127.0.0.1',
        port: srv.port,
        method,
        path,
        ca: srv.ca.certPem,
        headers: { authorization: `Bearer ${srv.token}`, 'content-length': total, ...headers },
      },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        res.on('error', () => resolve({ status: 'reset', text }));
      },
    );
    req.on('error', () => resolve({ status: 'reset', text: '' }));
    void (async () => {
      for (const chunk of chunks) {
        if (req.destroyed) return;
        req.write(chunk);
        await new Promise((r) => setTimeout(r, pauseMs));
      }
      req.end();
    })();
  });
}

describe('API limits', () => {
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startTestServer({
      limits: {
        jsonBodyBytes: 64 * 1024,
        manifestBodyBytes: 512 * 1024,
        uploadMaxBytes: 2 * MiB,
        requestTimeoutMs: 400,
        logsMaxBytes: 256 * 1024,
      },
    });
  });
  afterAll(async () => {
    await srv?.close();
  });

  it('turns off Node\'s 5-minute request timeout on the API sockets', () => {
    expect(srv.server.app.server.requestTimeout).toBe(0);
  });

  it('limits JSON bodies per route: a manifest route takes more than the others', async () => {
    const big = 'x'.repeat(200 * 1024);
    const ssh = await call(srv, 'POST', '/api/v1/deployments/demo/instances/g/0/ssh', {
      token: srv.token,
      body: { command: big },
    });
    expect(ssh.status).toBe(413);
    expect((ssh.body as { error: { message: string } }).error.message).toMatch(/larger than .* accepts \(64\.0 KiB\)/);
    const diff = await call(srv, 'POST', '/api/v1/deployments/diff', {
      token: srv.token,
      body: { manifest: `name: demo\n# ${big}` },
    });
    expect(diff.status).toBe(200);
    const tooBigManifest = await call(srv, 'POST', '/api/v1/deployments/diff', {
      token: srv.token,
      body: { manifest: 'x'.repeat(600 * 1024) },
    });
    expect(tooBigManifest.status).toBe(413);
  });

  it('refuses an upload over the maximum before storing it', async () => {
    const before = srv.fake.uploadedImages.length;
    const res = await call(srv, 'POST', '/api/v1/images', {
      token: srv.token,
      rawBody: Buffer.alloc(3 * MiB),
      contentType: 'application/x-tar',
    });
    expect(res.status).toBe(413);
    expect((res.body as { error: { message: string } }).error.message).toMatch(/larger than this director accepts \(2\.0 MiB\).*upload_max_size/);
    expect(srv.fake.uploadedImages.length).toBe(before);
    // Under the upload maximum, an upload far over the JSON body limit is accepted.
    const ok = await call(srv, 'POST', '/api/v1/images', {
      token: srv.token,
      rawBody: Buffer.alloc(Math.floor(1.5 * MiB)),
      contentType: 'application/x-tar',
    });
    expect(ok.status).toBe(200);
    expect(srv.fake.uploadedImages.at(-1)?.bytes).toBe(Math.floor(1.5 * MiB));
  });

  it('refuses an upload sent without a length once it passes the maximum', async () => {
    const before = srv.fake.uploadedImages.length;
    const res = await new Promise<{ status: number | 'reset'; text: string }>((resolve) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: srv.port,
          method: 'POST',
          path: '/api/v1/images',
          ca: srv.ca.certPem,
          headers: { authorization: `Bearer ${srv.token}`, 'content-type': 'application/x-tar', 'transfer-encoding': 'chunked' },
        },
        (r) => {
          let text = '';
          r.on('data', (c: Buffer) => (text += c.toString()));
          r.on('end', () => resolve({ status: r.statusCode ?? 0, text }));
        },
      );
      req.on('error', () => resolve({ status: 'reset', text: '' }));
      req.end(Buffer.alloc(3 * MiB));
    });
    if (res.status !== 'reset') expect(res.status).toBe(413);
    expect(srv.fake.uploadedImages.length).toBe(before);
  });

  it('refuses an upload the disk has no room for, saying what is needed and free', async () => {
    const roomy = await startTestServer({ limits: { uploadMaxBytes: Number.MAX_SAFE_INTEGER } });
    try {
      // A declared length no disk has room for; the check happens before any byte is read.
      const res = await slowRequest(roomy, 'POST', '/api/v1/images', [Buffer.alloc(16)], 10, {
        'content-type': 'application/x-tar',
        'content-length': 2 ** 52,
      });
      expect(res.status).toBe(507);
      expect(res.text).toMatch(/not enough free disk space .* it needs .* on the filesystem of .* is free/);
      expect(roomy.fake.uploadedImages).toHaveLength(0);
    } finally {
      await roomy.close();
    }
  });

  it('lets an upload take longer than the request timeout, and cuts a slow JSON request', async () => {
    const chunks = Array.from({ length: 6 }, () => Buffer.alloc(1024, 1));
    const upload = await slowRequest(srv, 'POST', '/api/v1/images', chunks, 200, { 'content-type': 'application/x-tar' });
    expect(upload.status).toBe(200);
    expect(srv.fake.uploadedImages.at(-1)?.bytes).toBe(6 * 1024);

    const body = Buffer.from(JSON.stringify({ command: 'true' }));
    const parts = [body.subarray(0, 5), body.subarray(5, 10), body.subarray(10)];
    const slow = await slowRequest(srv, 'POST', '/api/v1/deployments/demo/instances/g/0/ssh', parts, 400, {
      'content-type': 'application/json',
    });
    expect(slow.status === 408 || slow.status === 'reset').toBe(true);
  });

  it('does not cut a request that arrived in time but takes long to answer', async () => {
    srv.fake.logsDelayMs = 1000;
    try {
      const res = await call(srv, 'GET', '/api/v1/deployments/demo/instances/web/0/logs', { token: srv.token });
      expect(res.status).toBe(200);
    } finally {
      srv.fake.logsDelayMs = 0;
    }
  });

  it('adds up the needs of directories on one filesystem', async () => {
    const space = (dir: string) => Promise.resolve({ device: dir.startsWith('/a') ? 1 : 2, freeBytes: 1000 * MiB });
    await expect(
      checkUploadSpace(300 * MiB, [
        { dir: '/a/uploads', factor: 2, what: 'the tarball' },
        { dir: '/b/registry', factor: 1, what: "the registry's copy" },
      ], space),
    ).resolves.toBeUndefined();
    await expect(
      checkUploadSpace(320 * MiB, [
        { dir: '/a/uploads', factor: 2, what: 'the tarball' },
        { dir: '/a/registry', factor: 1, what: "the registry's copy" },
      ], space),
    ).rejects.toThrow(/needs 1\.0 GiB on the filesystem of \/a\/uploads and \/a\/registry .* and 1000\.0 MiB is free/);
  });

  it('reads sizes as the director config writes them', () => {
    expect(parseSize('16m')).toBe(16 * MiB);
    expect(parseSize('20g')).toBe(20 * 1024 * MiB);
    expect(parseSize('512KiB')).toBe(512 * 1024);
    expect(parseSize(100)).toBe(100);
    expect(() => parseSize('lots')).toThrow(/not a size/);
  });

  it('cuts a huge log to the limit, keeping its last lines, and says so', async () => {
    const lines = Array.from({ length: 40_000 }, (_, i) => `line ${i} ${'y'.repeat(40)}`);
    srv.fake.logsText = `${lines.join('\n')}\n`;
    try {
      const res = await call(srv, 'GET', '/api/v1/deployments/demo/instances/web/0/logs?lines=100000', { token: srv.token });
      expect(res.status).toBe(200);
      const logs = (res.body as { logs: string }).logs;
      expect(Buffer.byteLength(logs)).toBeLessThanOrEqual(256 * 1024 + 400);
      expect(logs).toMatch(/^\[bosun: log cut: showing the last [\d.]+ KiB of [\d.]+ MiB/);
      expect(logs.trimEnd().endsWith('line 39999 ' + 'y'.repeat(40))).toBe(true);
      // Whole lines only after the note.
      expect(logs.split('\n')[1]).toMatch(/^line \d+ y+$/);
    } finally {
      srv.fake.logsText = undefined;
    }
  });

  it('gives each container of a multi-container log its share', () => {
    const big = (name: string) => `==> web/0 ${name} <==\n${Array.from({ length: 1000 }, (_, i) => `${name} ${i}`).join('\n')}\n`;
    const capped = capLogs(`${big('redis')}${big('app')}`.replace(/\n$/, ''), 4000);
    expect(capped).toContain('==> web/0 redis <==');
    expect(capped).toContain('==> web/0 app <==');
    expect(capped).toContain('redis 999');
    expect(capped).toContain('app 999');
    expect(Buffer.byteLength(capped)).toBeLessThan(4000 + 600);
    expect(capLogs('short\n', 4000)).toBe('short\n');
  });
});
