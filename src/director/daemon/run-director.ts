import { readFile, rm, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { ConflictError, errorMessage } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';
import { createPinoLogger } from '../../common/pino-logger.js';
import type { ListenAddress } from '../api/server.js';
import { loadOrCreateCertificateAuthority } from '../ca-files.js';
import { loadDaemonConfig, type DaemonFlags } from './daemon-config.js';
import { openCloud } from './open-cloud.js';
import { dataDirPaths, ensureDataDir, loadOrCreateAdminToken } from './data-dir.js';
import { startDirectorServices, type DirectorServices } from './director-services.js';

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

  let services: DirectorServices | undefined;
  const shutdown = async (): Promise<void> => {
    await services?.stop();
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
    // Which cloud holds this director's VMs: `bosun down --purge` deletes them through it.
    await writeFile(
      paths.cloudFile,
      JSON.stringify({ type: config.cloud.type, ...(flags.configFile === undefined ? {} : { configFile: resolve(flags.configFile) }) }, null, 2),
    );
    const { cloud, bridgeIp, ownedAlone, getDisksTrusted } = await openCloud(config, paths.cloud, logger);
    const addresses: ListenAddress[] = [{ host: config.listenHost, port: config.port }];
    if (config.listenHost !== bridgeIp && config.listenHost !== '0.0.0.0')
      addresses.push({ host: bridgeIp, port: config.port });
    services = await startDirectorServices({
      ca,
      cloud,
      bridgeIp,
      extraCertificateIps:
        isIP(config.listenHost) && config.listenHost !== '0.0.0.0' ? [config.listenHost] : [],
      registry: { dataDir: config.dataDir, port: config.registryPort },
      apiPort: config.port,
      listen: addresses,
      uploadDir: paths.uploads,
      adminToken,
      version: VERSION,
      apiLimits: config.apiLimits,
      director: {
        name: config.name,
        version: VERSION,
        dataDir: config.dataDir,
        ...(config.agentCallTimeoutMs === undefined ? {} : { agentCallTimeoutMs: config.agentCallTimeoutMs }),
        ...(config.heartbeatIntervalMs === undefined
          ? {}
          : { heartbeatIntervalMs: config.heartbeatIntervalMs }),
        ...(config.agentWaitTimeoutMs === undefined ? {} : { agentWaitTimeoutMs: config.agentWaitTimeoutMs }),
        ...(config.resurrectionDefault === undefined
          ? {}
          : { resurrectionDefault: config.resurrectionDefault }),
        ...config.retention,
        manifestPolicy: config.manifestPolicy,
        // The embedded local cloud (its own data dir) belongs to this director alone.
        deleteUnknownVmsAfterCrash: ownedAlone,
        cloudGetDisksTrusted: getDisksTrusted,
      },
      // health: the config file's health/resurrector/responders sections; giving them starts the monitor.
      health: config.healthSections,
      manifestPolicy: { allowedHostPaths: config.allowedHostPaths },
      logger,
      onStopError: (what, err) =>
        logger.warn(`could not stop the ${what} cleanly`, { error: errorMessage(err) }),
    });
    const { registry, bound } = services;

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
