import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DirectorClient } from '../../../src/cli/client.js';
import { startTestServer, type TestServer } from './test-server.js';

describe('an upload the director refuses, seen by the CLI client', () => {
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startTestServer({ limits: { uploadMaxBytes: 1024 * 1024 } });
  });
  afterAll(async () => {
    await srv?.close();
  });

  it('gets the director\'s sentence, not a broken pipe, while it is still sending', async () => {
    const file = join(process.env['TMPDIR'] ?? '/tmp', `bosun-big-${process.pid}.tar`);
    await writeFile(file, Buffer.alloc(48 * 1024 * 1024));
    try {
      const client = new DirectorClient({ url: srv.url, token: srv.token, caPem: srv.ca.certPem });
      await expect(client.upload('/api/v1/images', file, 'application/x-tar')).rejects.toThrow(
        /larger than this director accepts \(1\.0 MiB\)/,
      );
      expect(srv.fake.uploadedImages).toHaveLength(0);
    } finally {
      await rm(file, { force: true });
    }
  });
});
