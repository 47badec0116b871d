import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { request, type RequestOptions } from 'node:https';
import type { Readable } from 'node:stream';
import { BosunError, UnavailableError, fromErrorBody } from '../common/errors.js';
import type { Target } from './target.js';

const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ETIMEDOUT',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/**
 * The director's REST API over HTTPS: the target's CA (and nothing else) is trusted, the token is
 * sent as a bearer header, errors come back as the typed errors of src/common/errors.ts.
 */
export class DirectorClient {
  constructor(
    readonly target: Target,
    private readonly timeoutMs = 10 * 60 * 1000,
  ) {}

  get<T>(path: string, query: Record<string, string | number | boolean | undefined> = {}): Promise<T> {
    return this.send<T>('GET', withQuery(path, query));
  }

  post<T>(path: string, body: unknown = {}): Promise<T> {
    return this.send<T>('POST', path, body);
  }

  put<T>(path: string, body: unknown): Promise<T> {
    return this.send<T>('PUT', path, body);
  }

  delete<T>(path: string, query: Record<string, string | number | boolean | undefined> = {}): Promise<T> {
    return this.send<T>('DELETE', withQuery(path, query));
  }

  /** Streams a file as the request body (image tarballs can be large: never read into memory). */
  async upload<T>(path: string, file: string, contentType: string): Promise<T> {
    const { size } = await stat(file);
    return this.send<T>('POST', path, undefined, { stream: createReadStream(file), size, contentType });
  }

  private send<T>(
    method: string,
    path: string,
    body?: unknown,
    upload?: { stream: Readable; size: number; contentType: string },
  ): Promise<T> {
    const url = new URL(path, `${this.target.url}/`);
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const headers: Record<string, string | number> = {
      authorization: `Bearer ${this.target.token}`,
      accept: 'application/json',
    };
    if (payload) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = payload.length;
    }
    if (upload) {
      headers['content-type'] = upload.contentType;
      headers['content-length'] = upload.size;
    }
    const options: RequestOptions = {
      method,
      hostname: url.hostname.replace(/^\[|\]$/g, ''),
      port: url.port || 443,
      path: `${url.pathname}${url.search}`,
      ca: this.target.caPem,
      headers,
      timeout: this.timeoutMs,
    };
    return new Promise<T>((resolve, reject) => {
      const req = request(options, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = text;
          try {
            parsed = text.length > 0 ? JSON.parse(text) : null;
          } catch {
            // not JSON: keep the text for the error message
          }
          const status = res.statusCode ?? 0;
          if (status >= 400) {
            reject(
              typeof parsed === 'object' && parsed !== null
                ? fromErrorBody(status, parsed)
                : new BosunError(
                    status >= 500 ? 'internal' : 'invalid_input',
                    status,
                    `The director answered ${method} ${url.pathname} with HTTP ${status}: ${text.slice(0, 200)}`,
                  ),
            );
            return;
          }
          resolve(parsed as T);
        });
      });
      req.on('timeout', () => req.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })));
      req.on('error', (err: NodeJS.ErrnoException) => reject(this.connectionError(err)));
      if (upload) {
        upload.stream.on('error', (err) => req.destroy(err));
        upload.stream.pipe(req);
      } else {
        req.end(payload);
      }
    });
  }

  private connectionError(err: NodeJS.ErrnoException): Error {
    if (err.code && UNREACHABLE_CODES.has(err.code)) {
      return new UnavailableError(
        `The director at ${this.target.url} is not reachable (${err.code}); start it with \`bosun up\`.`,
        { cause: err },
      );
    }
    if (err.code && /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(err.code)) {
      return new UnavailableError(
        `The director at ${this.target.url} presented a certificate the CLI target's CA does not trust (${err.code}); run \`bosun up\` again to refresh ~/.bosun/config.`,
        { cause: err },
      );
    }
    return err;
  }
}

function withQuery(path: string, query: Record<string, string | number | boolean | undefined>): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === false) continue;
    params.set(key, value === true ? '1' : String(value));
  }
  const qs = params.toString();
  return qs ? `${path}?${qs}` : path;
}

/** Encodes one path segment (deployment, group and disk names come from users). */
export function seg(value: string | number): string {
  return encodeURIComponent(String(value));
}
