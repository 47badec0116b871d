/**
 * The registry's front door on the address the VMs reach. The real registry (distribution) listens
 * only on a unix socket in the director's data directory; this TLS front passes reads (GET, HEAD)
 * through to it for anyone, and everything else (pushes, deletes: POST, PUT, PATCH, DELETE …) only
 * with the director's write credentials (HTTP Basic). Every container on every VM can reach the
 * registry's address, so without the front a container could replace `redis:7` for every VM or
 * delete images that resurrection needs.
 *
 * Reads stay anonymous on purpose: each VM's dockerd pulls through `--registry-mirror`, and dockerd
 * sends no credentials to a mirror; the images are the installation's own and every VM must be
 * able to pull each of them (an instance may be resurrected anywhere).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import http, { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { UnavailableError, errorMessage } from '../common/errors.js';
import type { Logger } from '../common/logger.js';

export interface RegistryCredentials {
  username: string;
  password: string;
}

export interface RegistryFrontOptions {
  host: string;
  port: number;
  tls: { certPem: string; keyPem: string };
  /** The real registry's unix socket. */
  backendSocket: string;
  /** Needed for every request other than GET and HEAD. */
  writeCredentials: RegistryCredentials;
  logger: Logger;
}

const READ_METHODS = new Set(['GET', 'HEAD']);
/** Hop-by-hop headers (RFC 9110 §7.6.1) and what the front itself decides. */
const DROPPED_REQUEST_HEADERS = ['connection', 'keep-alive', 'proxy-connection', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'expect', 'authorization', 'x-forwarded-host', 'x-forwarded-proto', 'x-forwarded-for'];
const DROPPED_RESPONSE_HEADERS = ['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade'];

/** `Basic base64(user:password)`: the Authorization header of the write credentials. */
export function basicAuthorization(credentials: RegistryCredentials): string {
  return `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`, 'utf8').toString('base64')}`;
}

export class RegistryFront {
  private readonly expected: Buffer;

  private constructor(
    private readonly server: https.Server,
    private readonly options: RegistryFrontOptions,
  ) {
    this.expected = digest(basicAuthorization(options.writeCredentials));
  }

  /** Listens on host:port; a taken address is an UnavailableError that says so. */
  static async listen(options: RegistryFrontOptions): Promise<RegistryFront> {
    const server = https.createServer({ cert: options.tls.certPem, key: options.tls.keyPem });
    // Blob uploads of big images take longer than node's default 5-minute request timeout.
    server.requestTimeout = 0;
    const front = new RegistryFront(server, options);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => front.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => {
        const reason = err.code === 'EADDRINUSE' ? 'address already in use' : errorMessage(err);
        reject(
          new UnavailableError(
            `The image registry could not listen on ${options.host}:${options.port}: ${reason}. ` +
              "Stop whatever holds that port or change the director's registry port.",
            { cause: err },
          ),
        );
      });
      server.listen(options.port, options.host, () => resolve());
    });
    return front;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const method = req.method ?? 'GET';
    if (!READ_METHODS.has(method) && !this.authorized(req.headers.authorization)) {
      req.resume();
      const body = JSON.stringify({
        errors: [
          {
            code: 'UNAUTHORIZED',
            message: `${method} needs the director's credentials: images are pushed and deleted only through the director (bosun upload-image); reads are open.`,
            detail: null,
          },
        ],
      });
      res.writeHead(401, {
        'content-type': 'application/json; charset=utf-8',
        'content-length': Buffer.byteLength(body),
        'www-authenticate': 'Basic realm="bosun registry"',
        'docker-distribution-api-version': 'registry/2.0',
        connection: 'close',
      });
      res.end(body);
      return;
    }
    this.forward(req, res, method);
  }

  private authorized(header: string | undefined): boolean {
    if (header === undefined) return false;
    return timingSafeEqual(digest(header), this.expected);
  }

  private forward(req: IncomingMessage, res: ServerResponse, method: string): void {
    const headers: IncomingHttpHeaders = { ...req.headers };
    for (const name of DROPPED_REQUEST_HEADERS) delete headers[name];
    // The registry builds upload Locations from these: the client's own view of the front.
    headers['x-forwarded-proto'] = 'https';
    if (req.socket.remoteAddress !== undefined) headers['x-forwarded-for'] = req.socket.remoteAddress;
    const upstream = http.request({ socketPath: this.options.backendSocket, method, path: req.url ?? '/', headers }, (answer) => {
      const out: IncomingHttpHeaders = { ...answer.headers };
      for (const name of DROPPED_RESPONSE_HEADERS) delete out[name];
      res.writeHead(answer.statusCode ?? 502, out);
      answer.pipe(res);
      answer.on('error', () => res.destroy());
    });
    upstream.on('error', (err) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      this.options.logger.debug('the registry behind the front did not answer', { error: errorMessage(err) });
      const body = JSON.stringify({
        errors: [{ code: 'UNAVAILABLE', message: 'The image registry is starting or restarting; try again in a moment.', detail: null }],
      });
      res.writeHead(503, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
    req.on('error', () => upstream.destroy());
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    req.pipe(upstream);
  }
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}
