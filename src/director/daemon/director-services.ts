/**
 * The director's servers wired together on one CA: the image registry on the VM bridge, the
 * Director (HTTP agent connector, manifest module, registry adapter) and its HTTPS API.
 * `bosun director` (run-director.ts) starts them through this function, and so do the in-process
 * stacks of the e2e tests and benchmarks, so that those exercise the production wiring.
 */
import { mkdir, rm } from 'node:fs/promises';
import type { Cloud } from '../../cloud/cloud.js';
import type { Logger } from '../../common/logger.js';
import { issueCertificate, issueDirectorClientCertificate, type CertificateAuthority } from '../../common/pki.js';
import { RegistryServer } from '../../registry/registry-server.js';
import type { AgentConnector } from '../../common/contracts/agent-connector.js';
import { HttpAgentConnector } from '../agent-client/http-agent-connector.js';
import { TokenAuthenticator } from '../api/auth.js';
import type { ApiLimits } from '../api/limits.js';
import { ApiServer, type ListenAddress } from '../api/server.js';
import type { DirectorConfigInput } from '../config.js';
import { manifestModuleWith } from '../deploy/manifest-adapter.js';
import type { ManifestPolicy } from '../../manifest/index.js';
import { Director } from '../director.js';
import { registryAdapter } from './registry-adapter.js';

export interface DirectorServicesOptions {
  ca: CertificateAuthority;
  cloud: Cloud;
  /** The cloud's bridge address: the VMs reach the director's API and the registry there. */
  bridgeIp: string;
  /** More IP addresses for the director's certificate, besides 127.0.0.1 and bridgeIp. */
  extraCertificateIps?: string[];
  registry: { dataDir: string; port: number };
  /** The API's port; the agents are given https://<bridgeIp>:<apiPort>. */
  apiPort: number;
  /** Where the API listens (each with apiPort or its own port). */
  listen: ListenAddress[];
  /** Where uploaded tarballs are streamed; emptied at start (uploads of a previous run are stale). */
  uploadDir: string;
  adminToken: string;
  version: string;
  /** Body, upload and request-time limits of the API (the config file's `api:` section). */
  apiLimits?: Partial<ApiLimits>;
  /** The director's settings; directorUrl, registryHost and ca are filled in here. */
  director: Omit<DirectorConfigInput, 'directorUrl' | 'registryHost' | 'ca'>;
  /** The config file's health/resurrector/responders sections; giving them starts the monitor. */
  health?: unknown;
  /** What manifests may ask for beyond the defaults (the host-path policy). */
  manifestPolicy?: ManifestPolicy;
  logger: Logger;
  /** Wraps the HTTP agent connector (benchmarks time its calls). */
  wrapAgentConnector?: (connector: AgentConnector) => AgentConnector;
  /** Told about each part that fails to stop; the others still stop. */
  onStopError?: (what: string, err: unknown) => void;
}

export interface DirectorServices {
  registry: RegistryServer;
  director: Director;
  api: ApiServer;
  /** The addresses the API listens on (ports resolved). */
  bound: ListenAddress[];
  /** Stops the API, the director and the registry, in that order. */
  stop(): Promise<void>;
}

export async function startDirectorServices(options: DirectorServicesOptions): Promise<DirectorServices> {
  const { ca, bridgeIp, logger } = options;
  const stops: Array<{ what: string; stop: () => Promise<void> }> = [];
  const stop = async (): Promise<void> => {
    for (const { what, stop: stopOne } of stops.splice(0).reverse()) {
      await stopOne().catch((err: unknown) => options.onStopError?.(what, err));
    }
  };
  try {
    // The API's server certificate, and a separate client certificate, the only one agents accept.
    const directorCert = issueCertificate(ca, {
      commonName: 'bosun-director-api',
      ipAddresses: [...new Set(['127.0.0.1', bridgeIp, ...(options.extraCertificateIps ?? [])])],
      dnsNames: ['localhost'],
      usage: 'server',
    });
    const directorClientCert = issueDirectorClientCertificate(ca);
    const registryCert = issueCertificate(ca, {
      commonName: 'bosun-registry',
      ipAddresses: [bridgeIp, '127.0.0.1'],
      usage: 'server',
    });
    const registry = await RegistryServer.create({
      dataDir: options.registry.dataDir,
      host: bridgeIp,
      port: options.registry.port,
      tls: { certPem: registryCert.certPem, keyPem: registryCert.keyPem, caPem: ca.certPem },
      logger,
    });
    stops.push({ what: 'registry', stop: () => registry.stop() });

    const http = new HttpAgentConnector({
      caPem: ca.certPem,
      certPem: directorClientCert.certPem,
      keyPem: directorClientCert.keyPem,
    });
    const director = await Director.create({
      config: {
        ...options.director,
        directorUrl: `https://${bridgeIp}:${options.apiPort}`,
        registryHost: registry.hostPort,
        ca,
      },
      cloud: options.cloud,
      agentConnector: options.wrapAgentConnector ? options.wrapAgentConnector(http) : http,
      manifests: manifestModuleWith(options.manifestPolicy ?? {}),
      registry: registryAdapter({
        hostPort: registry.hostPort,
        caPem: ca.certPem,
        authorization: registry.writeAuthorization,
        uploadDir: options.uploadDir,
        workDir: options.uploadDir,
      }),
      logger,
      ...(options.health === undefined ? {} : { health: options.health }),
    });
    stops.push({ what: 'director', stop: () => director.close() });

    // Uploads left by a previous run belong to tasks the director failed on restart (just now).
    await rm(options.uploadDir, { recursive: true, force: true });
    await mkdir(options.uploadDir, { recursive: true, mode: 0o700 });
    const api = await ApiServer.create({
      director,
      tls: { certPem: directorCert.certPem, keyPem: directorCert.keyPem, caPem: ca.certPem },
      authenticator: new TokenAuthenticator([{ user: 'admin', token: options.adminToken }]),
      logger: logger.child({ component: 'api' }),
      uploadDir: options.uploadDir,
      registryStorageDir: registry.storageDir,
      version: options.version,
      ...(options.apiLimits === undefined ? {} : { limits: options.apiLimits }),
    });
    stops.push({ what: 'API server', stop: () => api.close() });
    const bound = await api.listen(options.listen);
    return { registry, director, api, bound, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
