/**
 * The one HTTPS client of bosun (CLI → director, director → agent, agent → director, registry),
 * on undici. It trusts only the CA it is given, may present a client certificate, may check the
 * server's identity its own way, bounds every call by a timeout and every answer by a size cap,
 * and turns failures into the typed errors of src/common/errors.ts:
 * - no answer in time → TimeoutError (retryable), a refused or broken connection → UnavailableError
 *   (retryable), a certificate the CA does not vouch for → UnavailableError (not retryable);
 * - an HTTP error status → the error its body names ({ error: { code, message, details } }).
 */
import type { Readable } from 'node:stream';
import type { PeerCertificate } from 'node:tls';
import { Agent, request, type Dispatcher } from 'undici';
import {
  BosunError,
  InternalError,
  TimeoutError,
  UnavailableError,
  codeOfStatus,
  errorMessage,
  fromErrorBody,
} from '../errors.js';
import { abortReason } from '../waiting.js';

export interface HttpsTlsOptions {
  /** PEM of the only CA trusted for the server's certificate. */
  caPem: string;
  /** A client certificate and key (mutual TLS). */
  certPem?: string;
  keyPem?: string;
  /** Replaces the hostname check (the chain is verified against `caPem` regardless). */
  checkServerIdentity?: (host: string, cert: PeerCertificate) => Error | undefined;
}

export interface HttpsDispatcherOptions {
  /** Connections kept per origin (default 8). */
  connections?: number;
}

/** A keep-alive connection pool for one TLS identity; share it between clients of many origins. */
export function createHttpsDispatcher(tls: HttpsTlsOptions, options: HttpsDispatcherOptions = {}): Dispatcher {
  const connect: Record<string, unknown> = { ca: tls.caPem, rejectUnauthorized: true };
  if (tls.certPem !== undefined) connect.cert = tls.certPem;
  if (tls.keyPem !== undefined) connect.key = tls.keyPem;
  if (tls.checkServerIdentity) connect.checkServerIdentity = tls.checkServerIdentity;
  return new Agent({ connections: options.connections ?? 8, connect });
}

export const DEFAULT_TIMEOUT_MS = 30_000;
export const DEFAULT_MAX_RESPONSE_BYTES = 16 * 1024 * 1024;

export interface HttpsClientOptions {
  /** e.g. `https://10.244.0.1:25555`; paths of calls are resolved against it. */
  baseUrl: string;
  /** Names the server in error messages: "the director at https://…", "agent a1 at https://…". */
  peerName: string;
  /** Either TLS options (the client owns its pool) or a shared dispatcher (createHttpsDispatcher). */
  tls?: HttpsTlsOptions;
  dispatcher?: Dispatcher;
  /** Default time a call may take in all (0: no limit but the idle timeout). */
  timeoutMs?: number;
  /** Default cap on a response body. */
  maxResponseBytes?: number;
  /** Sent with every call (e.g. authorization). */
  headers?: Record<string, string>;
  /** Ends "… is not reachable (ECONNREFUSED); " errors: what to do about it. */
  unreachableHint?: string;
  /** Appended to "certificate not trusted" errors. */
  untrustedHint?: string;
}

export type Query = Record<string, string | number | boolean | undefined>;

export interface CallOptions {
  query?: Query;
  /** A JSON body. */
  json?: unknown;
  /** A raw body: a buffer, or a stream sent as it is read (never held in memory) with its size. */
  body?: Buffer | { stream: Readable; size: number };
  headers?: Record<string, string | number>;
  /** Time the whole call may take (default: the client's); 0 means only `idleTimeoutMs` applies. */
  timeoutMs?: number;
  /** Longest silence while sending or receiving (default: the call's timeout, else 10 min). */
  idleTimeoutMs?: number;
  maxResponseBytes?: number;
  signal?: AbortSignal;
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

const UNREACHABLE = /^(ECONNREFUSED|EHOSTUNREACH|ENETUNREACH|EHOSTDOWN|ENETDOWN|ETIMEDOUT|ECONNRESET|EPIPE|ENOTFOUND|EAI_AGAIN|UND_ERR_CONNECT_TIMEOUT|UND_ERR_SOCKET|UND_ERR_CLOSED)$/;
const UNTRUSTED = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|ALTNAME|UNABLE_TO_GET_ISSUER/;

export class HttpsClient {
  readonly baseUrl: string;
  private readonly dispatcher: Dispatcher;
  private readonly ownsDispatcher: boolean;

  constructor(private readonly options: HttpsClientOptions) {
    const url = new URL(options.baseUrl);
    if (url.protocol !== 'https:') {
      throw new BosunError('invalid_input', 400, `${options.peerName}: the URL ${options.baseUrl} must start with https://.`);
    }
    this.baseUrl = url.origin;
    if (options.dispatcher) {
      this.dispatcher = options.dispatcher;
      this.ownsDispatcher = false;
    } else if (options.tls) {
      this.dispatcher = createHttpsDispatcher(options.tls);
      this.ownsDispatcher = true;
    } else {
      throw new BosunError('internal', 500, `${options.peerName}: an HTTPS client needs TLS options or a dispatcher.`);
    }
  }

  /** A JSON call: resolves with the parsed answer (undefined when empty); an error status rejects with its typed error. */
  async json<T>(method: string, path: string, options: CallOptions = {}): Promise<T> {
    const res = await this.raw(method, path, { ...options, headers: { accept: 'application/json', ...options.headers } });
    const text = res.body.toString('utf8');
    let parsed: unknown;
    let isJson = true;
    try {
      parsed = text.length > 0 ? JSON.parse(text) : undefined;
    } catch {
      isJson = false;
    }
    if (res.status >= 200 && res.status < 300) {
      if (!isJson) {
        throw new InternalError(`${this.options.peerName} answered ${method} ${pathOf(path)} with something that is not JSON: ${text.slice(0, 200)}`);
      }
      return parsed as T;
    }
    if (isJson && typeof parsed === 'object' && parsed !== null && 'error' in parsed) throw fromErrorBody(res.status, parsed);
    throw new BosunError(
      codeOfStatus(res.status),
      res.status,
      `${this.options.peerName} answered ${method} ${pathOf(path)} with HTTP ${res.status}${text ? `: ${text.slice(0, 200)}` : ''}`,
      { retryable: res.status === 502 || res.status === 503 },
    );
  }

  /** One call, whatever its status; the body is read whole up to the size cap. */
  async raw(method: string, path: string, options: CallOptions = {}): Promise<RawResponse> {
    const url = new URL(path, `${this.baseUrl}/`);
    for (const [key, value] of Object.entries(options.query ?? {})) {
      if (value === undefined || value === false) continue;
      url.searchParams.set(key, value === true ? '1' : String(value));
    }
    const what = `${method} ${url.pathname}`;
    const timeoutMs = options.timeoutMs ?? this.options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const idleMs = options.idleTimeoutMs ?? (timeoutMs > 0 ? timeoutMs : 10 * 60_000);
    const maxBytes = options.maxResponseBytes ?? this.options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries({ ...this.options.headers, ...options.headers })) headers[k.toLowerCase()] = String(v);
    let body: Buffer | Readable | undefined;
    if (options.json !== undefined) {
      body = Buffer.from(JSON.stringify(options.json));
      headers['content-type'] ??= 'application/json';
    } else if (Buffer.isBuffer(options.body)) {
      body = options.body;
    } else if (options.body) {
      body = options.body.stream;
      headers['content-length'] = String(options.body.size);
    }
    if (Buffer.isBuffer(body)) headers['content-length'] = String(body.length);

    const timeout = timeoutMs > 0 ? AbortSignal.timeout(timeoutMs) : undefined;
    const signals = [options.signal, timeout].filter((s): s is AbortSignal => s !== undefined);
    const signal = signals.length > 1 ? AbortSignal.any(signals) : signals[0];
    const timedOut = (): TimeoutError =>
      new TimeoutError(
        `No answer from ${this.options.peerName} within ${formatMs(timeout?.aborted ? timeoutMs : idleMs)} (${what}); ` +
          'it may be overloaded or gone.',
        { retryable: true },
      );
    {
      if (options.signal?.aborted) throw abortReason(options.signal);
      let res: Dispatcher.ResponseData;
      try {
        res = await request(url, {
          dispatcher: this.dispatcher,
          method: method as Dispatcher.HttpMethod,
          headers,
          body: body ?? null,
          signal: signal ?? null,
          headersTimeout: idleMs,
          bodyTimeout: idleMs,
        });
      } catch (err) {
        throw this.failure(err, what, options.signal, timeout, timedOut);
      }
      const declared = Number(res.headers['content-length']);
      if (Number.isFinite(declared) && declared > maxBytes) {
        discard(res.body);
        throw this.tooLarge(what, maxBytes);
      }
      const chunks: Buffer[] = [];
      let size = 0;
      try {
        for await (const chunk of res.body as AsyncIterable<Buffer>) {
          size += chunk.length;
          if (size > maxBytes) {
            discard(res.body);
            throw this.tooLarge(what, maxBytes);
          }
          chunks.push(chunk);
        }
      } catch (err) {
        if (err instanceof BosunError) throw err;
        throw this.failure(err, what, options.signal, timeout, timedOut);
      }
      return { status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) };
    }
  }

  /** Closes the connection pool (only when this client made it). */
  async close(): Promise<void> {
    if (this.ownsDispatcher) await this.dispatcher.close();
  }

  private failure(
    err: unknown,
    what: string,
    callerSignal: AbortSignal | undefined,
    timeoutSignal: AbortSignal | undefined,
    timedOut: () => TimeoutError,
  ): Error {
    if (callerSignal?.aborted) return abortReason(callerSignal);
    if (timeoutSignal?.aborted) return timedOut();
    if (err instanceof BosunError) return err;
    const code = errorCode(err);
    if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') return timedOut();
    const peer = this.options.peerName;
    if (code !== undefined && UNTRUSTED.test(code)) {
      return new UnavailableError(
        `${capitalize(peer)} presented a certificate that cannot be trusted (${code}: ${errorMessage(err)}).${hint(this.options.untrustedHint)}`,
        { cause: err },
      );
    }
    const why = code !== undefined && UNREACHABLE.test(code) ? code : errorMessage(err);
    return new UnavailableError(
      `${capitalize(peer)} is not reachable (${why}); ${this.options.unreachableHint ?? 'check that it is running.'}`,
      { cause: err, retryable: true },
    );
  }

  private tooLarge(what: string, maxBytes: number): InternalError {
    return new InternalError(
      `The answer of ${this.options.peerName} to ${what} is larger than this client's limit of ${formatBytes(maxBytes)}; ask for less.`,
    );
  }
}

/** Encodes one path segment (deployment, group and disk names come from users). */
export function seg(value: string | number): string {
  return encodeURIComponent(String(value));
}

/** The innermost errno/TLS code of an error and its causes (undici wraps socket errors in its own). */
function errorCode(err: unknown): string | undefined {
  let found: string | undefined;
  for (let e: unknown = err, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') found = code;
  }
  return found;
}

/** Drops an answer's body and its connection (an error after this is expected, not news). */
function discard(body: Dispatcher.ResponseData['body']): void {
  body.on('error', () => undefined);
  body.destroy();
}

function hint(text: string | undefined): string {
  return text ? ` ${text}` : '';
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function pathOf(path: string): string {
  const q = path.indexOf('?');
  return q === -1 ? path : path.slice(0, q);
}

function formatMs(ms: number): string {
  return ms < 10_000 ? `${ms} ms` : `${Math.round(ms / 1000)} s`;
}

function formatBytes(n: number): string {
  return n >= 1024 * 1024 ? `${Math.round(n / 1024 / 1024)} MiB` : `${Math.round(n / 1024)} KiB`;
}
