import type { FastifyError, FastifyInstance } from 'fastify';
import { BosunError, toErrorBody, type ErrorBody } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';

/**
 * The director's one error handler: BosunError → its status and the one error shape, fastify's
 * schema validation → 400 invalid_input, other 4xx from fastify keep their status; everything else
 * is a 500. Only 5xx are logged as errors (a 4xx is the caller's business, not an incident).
 */
export function installErrorHandler(app: FastifyInstance, logger: Logger): void {
  app.setErrorHandler((err: FastifyError | BosunError | Error, request, reply) => {
    const { status, body } = errorResponse(err);
    if (status >= 500) {
      logger.error('request failed', {
        method: request.method,
        url: routeOf(request.url),
        status,
        err: describe(err),
      });
    }
    void reply.status(status).send(body);
  });
  app.setNotFoundHandler((request, reply) => {
    const body: ErrorBody = {
      error: {
        code: 'not_found',
        message: `There is no route ${request.method} ${routeOf(request.url)} on this director; see /openapi.json for the routes it serves.`,
      },
    };
    void reply.status(404).send(body);
  });
}

export function errorResponse(err: unknown): { status: number; body: ErrorBody } {
  if (err instanceof BosunError) return toErrorBody(err);
  const fe = err as Partial<FastifyError>;
  if (fe.validation) {
    const where = fe.validationContext ?? 'request';
    return {
      status: 400,
      body: {
        error: {
          code: 'invalid_input',
          message: `Invalid ${where}: ${fe.message ?? 'does not match the schema'}; see /openapi.json.`,
          details: fe.validation,
        },
      },
    };
  }
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return {
      status: fe.statusCode,
      body: {
        error: {
          code: fe.statusCode === 404 ? 'not_found' : 'invalid_input',
          message: fe.message ?? 'bad request',
        },
      },
    };
  }
  return toErrorBody(err);
}

/** The path without its query string: queries may carry names but never belong in a log line. */
function routeOf(url: string): string {
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

function describe(err: unknown): { name: string; message: string; stack?: string } {
  if (err instanceof Error) return { name: err.name, message: err.message, stack: err.stack };
  return { name: 'Error', message: String(err) };
}
