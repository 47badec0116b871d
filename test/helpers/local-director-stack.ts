/**
 * The whole director stack in this process, on a LocalCloud fixture (its own bridge, subnet and
 * temp dir): CA, the real registry on the bridge address, the Director with the HTTP agent
 * connector and its health monitor running, and the HTTPS API the agents send heartbeats to,
 * all started by the production wiring (startDirectorServices, as `bosun director` does).
 * The director's cloud calls are recorded (`cloudCalls`) for order assertions.
 * `close()` stops it all and deletes every VM and disk (call it from afterAll).
 * The stemcell scripts/build-stemcell.sh built is uploaded at start (its root unpacked once for
 * all test clouds, see local-cloud-fixture.ts), so deploys boot stemcell VMs (as with
 * director-fixture.ts). The agent runs from dist/ (npm run build first).
 */
import { copyFile, link, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Cloud } from '../../src/cloud/cloud.js';
import { silentLogger, type Logger } from '../../src/common/logger.js';
import { createCertificateAuthority } from '../../src/common/pki.js';
import type { AgentConnector } from '../../src/common/contracts/agent-connector.js';
import { startDirectorServices } from '../../src/director/daemon/director-services.js';
import type { Director } from '../../src/director/director.js';
import { builtStemcellFile } from './built-stemcell.js';
import { recordCloudCalls, type CloudCall } from './cloud-call-log.js';
import { freePort } from './director-fixture.js';
import { createLocalCloudFixture, type LocalCloudFixture } from './local-cloud-fixture.js';
import { ended } from './waits.js';

export interface LocalDirectorStack {
  fx: LocalCloudFixture;
  director: Director;
  /** Every call the director made on the cloud, in order (the test's own fx.cloud calls are not in it). */
  cloudCalls: CloudCall[];
  close(): Promise<void>;
}

export interface LocalDirectorStackOptions {
  /** The director config's health sections (default: none given, i.e. the default timings). */
  health?: unknown;
  /** false: no health monitor at all (benchmarks that time a deploy alone). Default true. */
  healthMonitor?: boolean;
  logger?: Logger;
  /** Wraps the (recorded) cloud the director uses, e.g. to time its calls. */
  wrapCloud?: (cloud: Cloud) => Cloud;
  /** Wraps the director's HTTP agent connector, e.g. to time its calls. */
  wrapAgentConnector?: (connector: AgentConnector) => AgentConnector;
  /** false: upload no stemcell. Default true (the built one). */
  uploadStemcell?: boolean;
}

export async function createLocalDirectorStack(
  options: LocalDirectorStackOptions = {},
): Promise<LocalDirectorStack> {
  const logger = options.logger ?? silentLogger;
  const fx = await createLocalCloudFixture({ logger });
  const dir = await mkdtemp(path.join(os.tmpdir(), 'bosun-director-stack-'));
  let stopServices: (() => Promise<void>) | undefined;
  const close = async (): Promise<void> => {
    await stopServices?.().catch(() => undefined);
    await fx.cleanup();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const recorded = recordCloudCalls(fx.cloud);
    const port = await freePort(fx.hostIp);
    const services = await startDirectorServices({
      ca: createCertificateAuthority('bosun e2e CA'),
      cloud: options.wrapCloud ? options.wrapCloud(recorded.cloud) : recorded.cloud,
      bridgeIp: fx.hostIp,
      registry: { dataDir: path.join(dir, 'registry'), port: await freePort(fx.hostIp) },
      apiPort: port,
      listen: [{ host: fx.hostIp, port }],
      uploadDir: path.join(dir, 'uploads'),
      adminToken: 'e2e-token',
      version: 'e2e',
      director: { dataDir: dir },
      ...(options.healthMonitor === false ? {} : { health: options.health ?? {} }),
      logger,
      ...(options.wrapAgentConnector ? { wrapAgentConnector: options.wrapAgentConnector } : {}),
    });
    stopServices = () => services.stop();
    if (options.uploadStemcell !== false) {
      // The upload task takes the file it is given (and removes it): hand it a link (or a copy).
      const upload = path.join(dir, 'stemcell-upload.tgz');
      await link(builtStemcellFile(), upload).catch(() => copyFile(builtStemcellFile(), upload));
      await ended(services.director, (await services.director.uploadStemcell(upload, 'e2e')).id);
    }
    return { fx, director: services.director, cloudCalls: recorded.calls, close };
  } catch (err) {
    await close();
    throw err;
  }
}
