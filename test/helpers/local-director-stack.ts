/**
 * The whole director stack in this process, on a LocalCloud fixture (its own bridge, subnet and
 * temp dir): CA, the real registry on the bridge address, the Director with the HTTP agent
 * connector and its health monitor running, and the HTTPS API the agents send heartbeats to.
 * The director's cloud calls are recorded (`cloudCalls`) for order assertions.
 * `close()` stops it all and deletes every VM and disk (call it from afterAll).
 * The agent runs from dist/ (npm run build first).
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { silentLogger, type Logger } from '../../src/common/logger.js';
import { createCertificateAuthority, issueCertificate } from '../../src/common/pki.js';
import { HttpAgentConnector } from '../../src/director/agent-client/http-agent-connector.js';
import { TokenAuthenticator } from '../../src/director/api/auth.js';
import { ApiServer } from '../../src/director/api/server.js';
import { registryAdapter } from '../../src/director/daemon/registry-adapter.js';
import { manifestModule } from '../../src/director/deploy/manifest-adapter.js';
import { Director } from '../../src/director/director.js';
import { RegistryServer } from '../../src/registry/registry-server.js';
import { recordCloudCalls, type CloudCall } from './cloud-call-log.js';
import { createLocalCloudFixture, type LocalCloudFixture } from './local-cloud-fixture.js';

export interface LocalDirectorStack {
  fx: LocalCloudFixture;
  director: Director;
  /** Every call the director made on the cloud, in order (the test's own fx.cloud calls are not in it). */
  cloudCalls: CloudCall[];
  close(): Promise<void>;
}

async function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

export async function createLocalDirectorStack(
  options: { health?: unknown; logger?: Logger } = {},
): Promise<LocalDirectorStack> {
  const logger = options.logger ?? silentLogger;
  const fx = await createLocalCloudFixture({ logger });
  const dir = await mkdtemp(path.join(os.tmpdir(), 'bosun-director-stack-'));
  const stops: Array<() => Promise<void>> = [];
  const close = async (): Promise<void> => {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    await fx.cleanup();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const ca = createCertificateAuthority('bosun e2e CA');
    const directorCert = issueCertificate(ca, {
      commonName: 'bosun-director',
      ipAddresses: [fx.hostIp, '127.0.0.1'],
      usage: 'both',
    });
    const registryCert = issueCertificate(ca, {
      commonName: 'bosun-registry',
      ipAddresses: [fx.hostIp, '127.0.0.1'],
      usage: 'server',
    });
    const registry = await RegistryServer.create({
      dataDir: path.join(dir, 'registry'),
      host: fx.hostIp,
      port: await freePort(fx.hostIp),
      tls: { certPem: registryCert.certPem, keyPem: registryCert.keyPem, caPem: ca.certPem },
      logger,
    });
    stops.push(() => registry.stop());
    const port = await freePort(fx.hostIp);
    const uploads = path.join(dir, 'uploads');
    await mkdir(uploads, { recursive: true });
    const recorded = recordCloudCalls(fx.cloud);
    const director = await Director.create({
      config: {
        dataDir: dir,
        directorUrl: `https://${fx.hostIp}:${port}`,
        registryHost: registry.hostPort,
        ca,
      },
      cloud: recorded.cloud,
      agentConnector: new HttpAgentConnector({
        caPem: ca.certPem,
        certPem: directorCert.certPem,
        keyPem: directorCert.keyPem,
      }),
      manifests: manifestModule,
      registry: registryAdapter({
        hostPort: registry.hostPort,
        caPem: ca.certPem,
        uploadDir: uploads,
        workDir: uploads,
      }),
      logger,
      health: options.health ?? {},
    });
    stops.push(() => director.close());
    const api = await ApiServer.create({
      director,
      tls: { certPem: directorCert.certPem, keyPem: directorCert.keyPem, caPem: ca.certPem },
      authenticator: new TokenAuthenticator([{ user: 'admin', token: 'e2e-token' }]),
      logger,
      uploadDir: uploads,
      version: 'e2e',
    });
    stops.push(() => api.close());
    await api.listen([{ host: fx.hostIp, port }]);
    return { fx, director, cloudCalls: recorded.calls, close };
  } catch (err) {
    await close();
    throw err;
  }
}
