import type { FastifyInstance } from 'fastify';
import {
  CloudError,
  DiskAttachedElsewhereError,
  DiskNotAttachedError,
  DiskNotFoundError,
  NotSupportedError,
  VmNotFoundError,
} from '../../cloud/cloud.js';
import { ConflictError, InternalError, NotFoundError, UnavailableError, type BosunError } from '../../common/errors.js';
import { installErrorHandler as install } from '../../common/http/server-errors.js';
import type { Logger } from '../../common/logger.js';

/**
 * The director's error handler: the one mapping of src/common/http/server-errors.ts, after cloud
 * errors became domain errors (below).
 */
export function installErrorHandler(app: FastifyInstance, logger: Logger): void {
  install(app, {
    logger,
    translate: cloudErrorToDomain,
    noRoute: (method, path) =>
      `There is no route ${method} ${path} on this director; see /openapi.json for the routes it serves.`,
  });
}

/**
 * What a cloud error means to an API caller: a fencing refusal is a conflict (409) the caller can
 * resolve, a VM or disk the cloud does not know is a 404, an operation the cloud cannot do is a
 * 409 (the request conflicts with what this cloud supports; choose another way, e.g. resize by
 * copy), a failure the cloud says may pass is a 503; any other cloud failure stays a 500. The
 * cloud's error type is kept in `details.cloudError`.
 */
export function cloudErrorToDomain(err: unknown): unknown {
  if (!(err instanceof CloudError)) return err;
  const options = { cause: err, details: { cloudError: err instanceof DiskAttachedElsewhereError ? 'DiskAttachedElsewhere' : err.type } };
  let mapped: BosunError;
  if (err instanceof DiskAttachedElsewhereError || err instanceof DiskNotAttachedError || err instanceof NotSupportedError) {
    mapped = new ConflictError(sentence(err.message), options);
  } else if (err instanceof VmNotFoundError || err instanceof DiskNotFoundError) {
    mapped = new NotFoundError(sentence(err.message), options);
  } else if (err.okToRetry) {
    mapped = new UnavailableError(`${sentence(err.message)} The cloud says the call may succeed when repeated; try again.`, options);
  } else {
    mapped = new InternalError(sentence(err.message), options);
  }
  return mapped;
}

function sentence(message: string): string {
  const s = message.charAt(0).toUpperCase() + message.slice(1);
  return /[.!?]$/.test(s) ? s : `${s}.`;
}
