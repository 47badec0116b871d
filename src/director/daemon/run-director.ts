import { readFile, rm, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { LocalCloud } from '../../cloud/local/index.js';
import { ConflictError, errorMessage } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';
import { issueCertificate } from '../../common/pki.js';
import { createPinoLogger } from '../../common/pino-logger.js';
import { RegistryServer } from '../../registry/registry-server.js';
import { HttpAgentConnector } from '../agent-client/http-agent-connector.js';
import { TokenAuthenticator } from '../api/auth.js';
import { ApiServer, type ListenAddress } from '../api/server.js';
import { loadOrCreateCertificateAuthority } from '../ca-files.js';
import { manifestModule } from '../deploy/manifest-adapter.js';
import { Director } from '../director.js';
import { loadDaemonConfig, type DaemonFlags } from './daemon-config.js';
import { dataDirPaths, ensureDataDir, loadOrCreateAdminToken } from './data-dir.js';
import { registryAdapter } from './registry-adapter.js';

const VERSION = '0.1.0';

/**
 * `bosun director`: the director process in the foreground. On first start it creates the data
 * directory, the CA and the admin token; every start it opens the local cloud (bridge + VMs),
 * issues the API and registry certificates for the addresses it serves, starts the registry,
 * the director and the HTTPS API, and stops them all in order on SIGTERM/SIGINT.
 */
export async function runDirector(
  flags: DaemonFlags,
  env: Record<string, string | undefined>,
): Promise<void> {
  const config = await loadDaemonConfig({ ...flags, dataDir: resolve(flags.dataDir) });
  const logger = createPinoLogger({ level: env['BOSUN_LOG_LEVEL'] ?? config.logLevel, name: 'director' });
  const paths = dataDirPaths(config.dataDir);
  await ensureDataDir(config.dataDir);
  await claimPidFile(paths.pidFile);

  const stops: Array<{ what: string; stop: () => Promise<void> }> = [];
  const shutdown = async (): Promise<void> => {
    for (const { what, stop } of stops.reverse()) {
      await stop().catch((err: unknown) =>
        logger.warn(`could not stop the ${what} cleanly`, { error: errorMessage(err) }),
      );
    }
    await rm(paths.stateFile, { force: true });
    await rm(paths.pidFile, { force: true });
  };

  try {
    const ca = loadOrCreateCertificateAuthority(config.dataDir);
    const adminToken = await loadOrCreateAdminToken(config.dataDir);
    // Which bridge is this director's: `bosun down --purge` deletes that one and no other.
    await writeFile(
      paths.networkFile,
      JSON.stringify({ bridgeName: config.bridgeName, subnet: config.subnet }, null, 2),
    );
    const cloud = await LocalCloud.create({
      dataDir: paths.cloud,
      bridgeName: config.bridgeName,
      subnet: config.subnet,
      logger,
    });
    const bridgeIp = cloud.hostIp;
    const ips = [
      ...new Set([
        '127.0.0.1',
        bridgeIp,
        ...(isIP(config.listenHost) && config.listenHost !== '0.0.0.0' ? [config.listenHost] : []),
      ]),
    ];
    // `both`: the same certificate serves the API and is the client certificate towards the agents.
    const directorCert = issueCertificate(ca, {
      commonName: 'bosun-director',
      ipAddresses: ips,
      dnsNames: ['localhost'],
      usage: 'both',
    });

    const registryCert = issueCertificate(ca, {
      commonName: 'bosun-registry',
      ipAddresses: [bridgeIp, '127.0.0.1'],
      usage: 'server',
    });
    const registry = await RegistryServer.create({
      dataDir: config.dataDir,
      host: bridgeIp,
      port: config.registryPort,
      tls: { certPem: registryCert.certPem, keyPem: registryCert.keyPem, caPem: ca.certPem },
      logger,
    });
    stops.push({ what: 'registry', stop: () => registry.stop() });

    const directorUrl = `https://${bridgeIp}:${config.port}`;
    const director = await Director.create({
      config: {
        name: config.name,
        version: VERSION,
        dataDir: config.dataDir,
        directorUrl,
        registryHost: registry.hostPort,
        ca,
        ...(config.agentTimeoutMs === undefined ? {} : { agentTimeoutMs: config.agentTimeoutMs }),
        ...(config.heartbeatIntervalMs === undefined
          ? {}
          : { heartbeatIntervalMs: config.heartbeatIntervalMs }),
        ...(config.agentWaitTimeoutMs === undefined ? {} : { agentWaitTimeoutMs: config.agentWaitTimeoutMs }),
        ...(config.resurrectionDefault === undefined
          ? {}
          : { resurrectionDefault: config.resurrectionDefault }),
        // The embedded local cloud (its own data dir) belongs to this director alone.
        deleteUnknownVmsAfterCrash: true,
      },
      cloud,
      agentConnector: new HttpAgentConnector({
        caPem: ca.certPem,
        certPem: directorCert.certPem,
        keyPem: directorCert.keyPem,
      }),
      manifests: manifestModule,
      registry: registryAdapter({
        hostPort: registry.hostPort,
        caPem: ca.certPem,
        uploadDir: paths.uploads,
        workDir: paths.uploads,
      }),
      logger,
      // health: the config file's health/resurrector/responders sections; giving them starts the monitor.
      health: config.healthSections,
    });
    stops.push({ what: 'director', stop: () => director.close() });

    // Uploads left by a previous run belong to tasks that were failed on restart.
    await rm(paths.uploads, { recursive: true, force: true });
    const api = await ApiServer.create({
      director,
      tls: { certPem: directorCert.certPem, keyPem: directorCert.keyPem, caPem: ca.certPem },
      authenticator: new TokenAuthenticator([{ user: 'admin', token: adminToken }]),
      logger: logger.child({ component: 'api' }),
      uploadDir: paths.uploads,
      version: VERSION,
    });
    stops.push({ what: 'API server', stop: () => api.close() });
    const addresses: ListenAddress[] = [{ host: config.listenHost, port: config.port }];
    if (config.listenHost !== bridgeIp && config.listenHost !== '0.0.0.0')
      addresses.push({ host: bridgeIp, port: config.port });
    const bound = await api.listen(addresses);

    const host = config.listenHost === '0.0.0.0' ? '127.0.0.1' : config.listenHost;
    const url = `https://${host.includes(':') ? `[${host}]` : host}:${config.port}`;
    await writeFile(
      paths.stateFile,
      JSON.stringify(
        {
          url,
          pid: process.pid,
          bridgeName: config.bridgeName,
          subnet: config.subnet,
          dataDir: config.dataDir,
        },
        null,
        2,
      ),
    );
    logger.info('bosun director is up', {
      urls: bound.map((b) => `https://${b.host}:${b.port}`),
      registry: registry.hostPort,
      dataDir: config.dataDir,
    });
  } catch (err) {
    logger.error('the director could not start', { error: errorMessage(err) });
    await shutdown();
    throw err;
  }

  await waitForSignal(logger);
  await shutdown();
  logger.info('bosun director stopped');
}

/** One director per data directory: refuses to start when another live process holds the pid file. */
async function claimPidFile(pidFile: string): Promise<void> {
  const existing = Number((await readFile(pidFile, 'utf8').catch(() => '')).trim());
  if (existing > 0 && existing !== process.pid && (await isDirectorProcess(existing))) {
    throw new ConflictError(
      `Another director (pid ${existing}) already runs with this data directory; stop it with \`bosun down\` first.`,
    );
  }
  await writeFile(pidFile, `${process.pid}\n`);
}

async function isDirectorProcess(pid: number): Promise<boolean> {
  try {
    return (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').includes('director');
  } catch {
    return false;
  }
}

function waitForSignal(logger: Logger): Promise<void> {
  return new Promise((resolveWait) => {
    const onSignal = (signal: NodeJS.Signals): void => {
      logger.info('stopping the director', { signal });
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      resolveWait();
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}
