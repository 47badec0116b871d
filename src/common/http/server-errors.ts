/**
 * The one mapping from an error to an HTTP answer, used by both HTTPS servers (director API,
 * agent API): a BosunError answers with its code's status, fastify's schema validation with 400
 * invalid_input, fastify's own 4xx (bad JSON, body too large, unsupported media type) keep their
 * status, everything else is a 500. Only 5xx are logged as errors: a 4xx is the caller's business.
 * Clients rebuild the typed error with fromErrorBody (src/common/errors.ts).
 */
import type { FastifyError, FastifyInstance } from 'fastify';
import { BosunError, codeOfStatus, toErrorBody, type ErrorBody } from '../errors.js';
import type { Logger } from '../logger.js';

export function errorResponse(err: unknown): { status: number; body: ErrorBody } {
  if (err instanceof BosunError) return toErrorBody(err);
  const fe = err as Partial<FastifyError> | null;
  if (fe?.validation) {
    const where = fe.validationContext ?? 'request';
    return {
      status: 400,
      body: {
        error: {
          code: 'invalid_input',
          message: `Invalid ${where}: ${fe.message ?? 'does not match the schema'}.`,
          details: fe.validation,
        },
      },
    };
  }
  if (typeof fe?.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return {
      status: fe.statusCode,
      body: { error: { code: codeOfStatus(fe.statusCode), message: fe.message ?? 'bad request' } },
    };
  }
  return toErrorBody(err);
}

export interface ErrorHandlerOptions {
  logger: Logger;
  /** Turns foreign errors into domain errors first (the director: cloud errors). */
  translate?: (err: unknown) => unknown;
  /** The message for a request no route serves. */
  noRoute: (method: string, path: string) => string;
}

export function installErrorHandler(app: FastifyInstance, options: ErrorHandlerOptions): void {
  app.setErrorHandler((err: unknown, request, reply) => {
    const { status, body } = errorResponse(options.translate ? options.translate(err) : err);
    if (status >= 500) {
      options.logger.error('request failed', {
        method: request.method,
        url: routeOf(request.url),
        status,
        err: describe(err),
      });
    }
    void reply.status(status).send(body);
  });
  app.setNotFoundHandler((request, reply) => {
    const body: ErrorBody = { error: { code: 'not_found', message: options.noRoute(request.method, routeOf(request.url)) } };
    void reply.status(404).send(body);
  });
}

/** The path without its query string: queries may carry names but never belong in a log line. */
export function routeOf(url: string): string {
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

function describe(err: unknown): { name: string; message: string; stack?: string } {
  if (err instanceof Error) return { name: err.name, message: err.message, stack: err.stack };
  return { name: 'Error', message: String(err) };
}
