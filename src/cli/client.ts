import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { HttpsClient, type Query } from '../common/http/https-client.js';
import type { Target } from './target.js';

export { seg } from '../common/http/https-client.js';

/** A JSON call may take this long in all; an upload may take any time while bytes keep moving. */
const CALL_TIMEOUT_MS = 10 * 60 * 1000;
const UPLOAD_IDLE_TIMEOUT_MS = 10 * 60 * 1000;
/** `bosun logs` of several containers can be large; the director bounds what it sends. */
const MAX_RESPONSE_BYTES = 64 * 1024 * 1024;

/**
 * The director's REST API over HTTPS (src/common/http/https-client.ts): the target's CA (and
 * nothing else) is trusted, the token is sent as a bearer header, errors come back as the typed
 * errors of src/common/errors.ts.
 */
export class DirectorClient {
  private readonly http: HttpsClient;

  constructor(
    readonly target: Target,
    timeoutMs = CALL_TIMEOUT_MS,
  ) {
    this.http = new HttpsClient({
      baseUrl: target.url,
      peerName: `the director at ${target.url}`,
      tls: { caPem: target.caPem },
      timeoutMs,
      maxResponseBytes: MAX_RESPONSE_BYTES,
      headers: { authorization: `Bearer ${target.token}` },
      unreachableHint: 'start it with `bosun up`.',
      untrustedHint: "The CLI target's CA does not vouch for it; run `bosun up` again to refresh ~/.bosun/config.",
    });
  }

  get<T>(path: string, query: Query = {}): Promise<T> {
    return this.http.json<T>('GET', path, { query });
  }

  post<T>(path: string, body: unknown = {}): Promise<T> {
    return this.http.json<T>('POST', path, { json: body });
  }

  put<T>(path: string, body: unknown): Promise<T> {
    return this.http.json<T>('PUT', path, { json: body });
  }

  delete<T>(path: string, query: Query = {}): Promise<T> {
    return this.http.json<T>('DELETE', path, { query });
  }

  /** Streams a file as the request body (image tarballs can be large: never read into memory). */
  async upload<T>(path: string, file: string, contentType: string): Promise<T> {
    const { size } = await stat(file);
    return this.http.json<T>('POST', path, {
      body: { stream: createReadStream(file), size },
      headers: { 'content-type': contentType },
      timeoutMs: 0,
      idleTimeoutMs: UPLOAD_IDLE_TIMEOUT_MS,
    });
  }
}
