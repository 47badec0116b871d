import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UnauthorizedError } from '../../../src/common/errors.js';
import { TokenAuthenticator } from '../../../src/director/api/auth.js';
import { loadDaemonConfig, parseListen } from '../../../src/director/daemon/daemon-config.js';
import {
  dataDirPaths,
  loadOrCreateAdminToken,
  readAdminToken,
} from '../../../src/director/daemon/data-dir.js';
import { get } from 'node:https';
import { silentLogger } from '../../../src/common/logger.js';
import { issueCertificate } from '../../../src/common/pki.js';
import { ApiServer } from '../../../src/director/api/server.js';
import { FakeDirectorService } from './fake-director-service.js';
import { testCa } from './test-server.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bosun-daemon-test-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('director process pieces', () => {
  it('creates the admin token once, in a 0600 file', async () => {
    const token = await loadOrCreateAdminToken(dir);
    expect(token).toMatch(/^[A-Za-z0-9_-]{40,}$/);
    expect(await loadOrCreateAdminToken(dir)).toBe(token);
    expect(await readAdminToken(dir)).toBe(token);
    expect((await stat(dataDirPaths(dir).adminToken)).mode & 0o777).toBe(0o600);
  });

  it('authenticates bearer tokens and names the user', () => {
    const auth = new TokenAuthenticator([{ user: 'admin', token: 'secret-1' }]);
    expect(auth.authenticate('Bearer secret-1')).toBe('admin');
    expect(() => auth.authenticate('Bearer secret-2')).toThrow(UnauthorizedError);
    expect(() => auth.authenticate('Basic x')).toThrow(/Bearer/);
    expect(() => auth.authenticate(undefined)).toThrow(/bosun up/);
  });

  it('parses --listen and the YAML config with defaults and durations', async () => {
    expect(parseListen('10.0.0.1:80')).toEqual({ host: '10.0.0.1', port: 80 });
    expect(parseListen('[::1]:25555')).toEqual({ host: '::1', port: 25555 });
    expect(() => parseListen('nope')).toThrow(/HOST:PORT/);
    const defaults = await loadDaemonConfig({ dataDir: dir });
    expect(defaults).toMatchObject({
      listenHost: '127.0.0.1',
      port: 25555,
      registryPort: 25556,
      bridgeName: 'bosun0',
      subnet: '10.244.0.0/16',
    });
    const file = join(dir, 'director.yml');
    await writeFile(
      file,
      'listen: 127.0.0.1:35555\nagent_timeout: 30s\nheartbeat_interval: 500ms\nhealth: {analyze_interval: 1s}\n',
    );
    const config = await loadDaemonConfig({ dataDir: dir, configFile: file });
    expect(config).toMatchObject({
      port: 35555,
      agentCallTimeoutMs: 30_000,
      heartbeatIntervalMs: 500,
      healthSections: { health: { analyze_interval: '1s' } },
    });
    await writeFile(file, 'agent_timout: 30s\n');
    await expect(loadDaemonConfig({ dataDir: dir, configFile: file })).rejects.toThrow(/is invalid/);
  });
});

describe('API server on several addresses', () => {
  it('serves the same routes on every address it listens on (loopback and the bridge)', async () => {
    const ca = testCa();
    const cert = issueCertificate(ca, {
      commonName: 'director',
      ipAddresses: ['127.0.0.1', '127.0.0.2'],
      usage: 'server',
    });
    const server = await ApiServer.create({
      director: new FakeDirectorService(),
      tls: { certPem: cert.certPem, keyPem: cert.keyPem, caPem: ca.certPem },
      authenticator: new TokenAuthenticator([{ user: 'admin', token: 't' }]),
      logger: silentLogger,
      uploadDir: join(dir, 'uploads'),
      version: 'test',
    });
    try {
      const bound = await server.listen([
        { host: '127.0.0.1', port: 0 },
        { host: '127.0.0.2', port: 0 },
      ]);
      expect(bound.map((b) => b.host)).toEqual(['127.0.0.1', '127.0.0.2']);
      for (const { host, port } of bound) {
        const status = await new Promise<number>((resolve, reject) => {
          get(
            {
              host,
              port,
              path: '/api/v1/deployments',
              ca: ca.certPem,
              headers: { authorization: 'Bearer t' },
            },
            (res) => {
              res.resume();
              resolve(res.statusCode ?? 0);
            },
          ).on('error', reject);
        });
        expect(status).toBe(200);
      }
    } finally {
      await server.close();
    }
  });
});
