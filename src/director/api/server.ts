import type { RequestListener } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance, type FastifyRequest, type preParsingHookHandler } from 'fastify';
import type { ErrorBody } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';
import type { DirectorService } from '../director-service.js';
import type { TokenAuthenticator } from './auth.js';
import { installErrorHandler } from './error-handler.js';
import { formatBytes, PayloadTooLargeError, resolveApiLimits, type ApiLimits } from './limits.js';
import { ApiMetrics } from './metrics.js';
import { buildOpenApi } from './openapi.js';
import type { RouteSpec } from './route-spec.js';
import { agentRoutes, authenticateAgent } from './routes/agents.js';
import { deploymentRoutes } from './routes/deployments.js';
import { directorWideRoutes } from './routes/director-wide.js';
import { imageRoutes, TARBALL_MEDIA_TYPES } from './routes/images.js';
import { stemcellRoutes } from './routes/stemcells.js';
import { cloudConfigRoutes } from './routes/cloud-config.js';
import { taskRoutes } from './routes/tasks.js';

declare module 'fastify' {
  interface FastifyRequest {
    bosunUser: string;
  }
}

export interface ApiServerOptions {
  director: DirectorService;
  /** The server certificate (issued by the director's CA) and the CA that client certificates must chain to. */
  tls: { certPem: string; keyPem: string; caPem: string };
  authenticator: TokenAuthenticator;
  logger: Logger;
  /** Where uploaded image tarballs are streamed before the upload task takes them. */
  uploadDir: string;
  /** The registry's blob storage, checked for room before an upload is accepted. */
  registryStorageDir?: string;
  version: string;
  /** Body sizes, upload size and request timeouts (defaults: DEFAULT_API_LIMITS). */
  limits?: Partial<ApiLimits>;
}

export interface ListenAddress {
  host: string;
  port: number;
}

/**
 * The director's HTTPS API: the routes of types.ts over a DirectorService, token auth on /api,
 * client-certificate auth on /internal (agents), /healthz, /metrics and /openapi.json.
 * The TLS server asks every client for a certificate but does not require one: the CLI has none,
 * agents present theirs and the agent routes check it.
 */
export class ApiServer {
  readonly app: FastifyInstance;
  readonly metrics: ApiMetrics;
  readonly routes: RouteSpec[];
  private readonly extraServers: Server[] = [];

  private constructor(
    app: FastifyInstance,
    metrics: ApiMetrics,
    routes: RouteSpec[],
    private readonly options: ApiServerOptions,
  ) {
    this.app = app;
    this.metrics = metrics;
    this.routes = routes;
  }

  static async create(options: ApiServerOptions): Promise<ApiServer> {
    const { director, logger } = options;
    const limits = resolveApiLimits(options.limits);
    let handler: RequestListener | undefined;
    const app = Fastify({
      logger: false,
      bodyLimit: limits.jsonBodyBytes,
      // One handler, several listening sockets (loopback and the bridge): see listen().
      serverFactory: (h) => {
        handler = h as RequestListener;
        return createHttpsServer(options.tls, h);
      },
    });
    const metrics = new ApiMetrics(director);
    const routes = [
      ...directorWideRoutes(director),
      ...deploymentRoutes(director, limits),
      ...taskRoutes(director),
      ...imageRoutes(director, {
        uploadDir: options.uploadDir,
        ...(options.registryStorageDir === undefined ? {} : { registryStorageDir: options.registryStorageDir }),
        limits,
      }),
      ...stemcellRoutes(director, options.uploadDir, limits),
      ...cloudConfigRoutes(director),
      ...agentRoutes(director, metrics),
    ];
    const server = new ApiServer(app, metrics, routes, options);
    server.handlerRef = () => handler;

    app.decorateRequest('bosunUser', '');
    installErrorHandler(app, logger);
    app.addContentTypeParser(TARBALL_MEDIA_TYPES, (_req, payload, done) => done(null, payload));
    // Node's own requestTimeout is off on every socket (createHttpsServer): it would cut an image
    // upload after 5 minutes. Requests other than uploads get this one instead.
    if (limits.requestTimeoutMs > 0) {
      app.addHook('onRequest', (request, reply, done) => {
        if ((request.routeOptions.config as { upload?: boolean }).upload === true) return done();
        const timer = setTimeout(() => {
          if (request.raw.complete) return;
          if (!reply.raw.headersSent) {
            const body: ErrorBody = {
              error: {
                code: 'timeout',
                message: `The request did not arrive within ${Math.round(limits.requestTimeoutMs / 1000)}s; send it again.`,
              },
            };
            reply.raw.writeHead(408, { 'content-type': 'application/json', connection: 'close' });
            reply.raw.end(JSON.stringify(body), () => request.raw.destroy());
          } else {
            request.raw.destroy();
          }
        }, limits.requestTimeoutMs);
        timer.unref();
        reply.raw.once('close', () => clearTimeout(timer));
        done();
      });
    }
    app.addHook('onResponse', (request, reply, done) => {
      const route = request.routeOptions.url ?? 'unmatched';
      metrics.observeRequest(request.method, route, reply.statusCode, reply.elapsedTime / 1000);
      logger.debug('request', {
        method: request.method,
        route,
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime),
      });
      done();
    });

    app.get('/healthz', () => ({ ok: true }));
    app.get('/metrics', async (_request, reply) => {
      const text = await metrics.registry.metrics();
      return reply.type(metrics.registry.contentType).send(text);
    });
    const openApi = buildOpenApi(routes, options.version);
    app.get('/openapi.json', { onRequest: tokenAuth(options.authenticator) }, () => openApi);

    for (const spec of routes) {
      const bodyLimit = spec.upload ? undefined : (spec.bodyLimitBytes ?? defaultBodyLimit(spec, limits));
      app.route({
        method: spec.method,
        url: spec.url,
        ...(bodyLimit === undefined ? {} : { bodyLimit }),
        // Before fastify reads a byte: a declared length over the limit is refused with a sentence.
        ...(bodyLimit === undefined ? {} : { preParsing: refuseDeclaredOver(bodyLimit) }),
        config: { upload: spec.upload === true },
        schema: {
          ...(spec.params ? { params: spec.params } : {}),
          ...(spec.querystring ? { querystring: spec.querystring } : {}),
          ...(spec.body ? { body: spec.body } : {}),
        },
        onRequest:
          spec.auth === 'token'
            ? tokenAuth(options.authenticator)
            : spec.auth === 'agent'
              ? (request, _reply, done) => {
                  authenticateAgent(request);
                  done();
                }
              : [],
        handler: async (request, reply) => {
          const value = await spec.handler(request, { user: request.bosunUser }, reply);
          if (reply.sent) return reply;
          return reply.send(value ?? null);
        },
      });
    }
    await app.ready();
    return server;
  }

  /** fastify's request handler, captured by the server factory, to serve more than one address. */
  private handlerRef: () => RequestListener | undefined = () => undefined;

  /** Listens on every address (port 0: any free port); returns where it actually listens. */
  async listen(addresses: ListenAddress[]): Promise<ListenAddress[]> {
    const [first, ...rest] = addresses;
    if (!first) throw new Error('ApiServer.listen needs at least one address');
    await this.app.listen({ host: first.host, port: first.port });
    const bound: ListenAddress[] = [
      { host: first.host, port: (this.app.server.address() as AddressInfo).port },
    ];
    const handler = this.handlerRef();
    for (const address of rest) {
      if (!handler) break;
      const server = createHttpsServer(this.options.tls, handler);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(address.port, address.host, () => {
          server.off('error', reject);
          resolve();
        });
      });
      this.extraServers.push(server);
      bound.push({ host: address.host, port: (server.address() as AddressInfo).port });
    }
    return bound;
  }

  async close(): Promise<void> {
    for (const server of this.extraServers) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    this.extraServers.length = 0;
    await this.app.close();
  }
}

/**
 * One listening socket of the API. Node's requestTimeout (5 minutes for the whole request by
 * default) is off: an image upload may take longer; the API's own limits bound the others.
 */
function createHttpsServer(tls: ApiServerOptions['tls'], handler: RequestListener): Server {
  const server = createServer(
    { cert: tls.certPem, key: tls.keyPem, ca: tls.caPem, requestCert: true, rejectUnauthorized: false },
    handler,
  );
  server.requestTimeout = 0;
  return server;
}

/** The JSON body limit of a route: the manifest limit for bodies that carry a manifest. */
function defaultBodyLimit(spec: RouteSpec, limits: ApiLimits): number {
  const properties = (spec.body as { properties?: Record<string, unknown> } | undefined)?.properties;
  return properties !== undefined && 'manifest' in properties ? limits.manifestBodyBytes : limits.jsonBodyBytes;
}

function refuseDeclaredOver(limit: number): preParsingHookHandler {
  return (request, _reply, payload, done) => {
    const declared = Number(request.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      done(
        new PayloadTooLargeError(
          `The request body (${formatBytes(declared)}) is larger than ${request.method} ${request.routeOptions.url ?? request.url} accepts (${formatBytes(limit)}); see the api: limits in the director config (docs/director.md).`,
        ),
      );
      return;
    }
    done(null, payload);
  };
}

function tokenAuth(authenticator: TokenAuthenticator) {
  return (request: FastifyRequest, _reply: unknown, done: (err?: Error) => void): void => {
    request.bosunUser = authenticator.authenticate(request.headers.authorization);
    done();
  };
}
