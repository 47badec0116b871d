/**
 * Domain errors. Each carries a stable `code` and the HTTP status it maps to; the one error
 * handler of each HTTP server (director, agent) turns them into the one JSON error shape
 * `{ error: { code, message, details? } }`, and the CLI turns them into exit codes
 * (user errors → 1, everything else → 2).
 */
export type ErrorCode =
  | 'invalid_input'
  | 'invalid_manifest'
  | 'not_found'
  | 'conflict'
  | 'dns_version_mismatch'
  | 'unauthorized'
  | 'forbidden'
  | 'timeout'
  | 'cancelled'
  | 'unavailable'
  | 'internal';

export interface ErrorOptions {
  cause?: unknown;
  details?: unknown;
  /** True when repeating the same call may succeed (no answer, connection refused): read by src/common/retry.ts. */
  retryable?: boolean;
}

/** The HTTP status of each error code, in one table (servers answer with it, clients rebuild from it). */
export const HTTP_STATUS_OF_CODE: Record<ErrorCode, number> = {
  invalid_input: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  dns_version_mismatch: 409,
  cancelled: 409,
  invalid_manifest: 422,
  internal: 500,
  unavailable: 503,
  timeout: 504,
};

export class BosunError extends Error {
  readonly code: ErrorCode;
  readonly httpStatus: number;
  readonly details: unknown;
  readonly retryable: boolean;

  constructor(code: ErrorCode, httpStatus: number, message: string, options: ErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.httpStatus = httpStatus;
    this.details = options.details;
    this.retryable = options.retryable ?? false;
  }

  /** True when the person who asked can fix it (bad input, unknown name, conflict): CLI exit code 1. */
  get isUserError(): boolean {
    return this.httpStatus >= 400 && this.httpStatus < 500;
  }
}

export class InvalidInputError extends BosunError {
  constructor(message: string, options?: ErrorOptions) {
    super('invalid_input', 400, message, options);
  }
}

export class NotFoundError extends BosunError {
  constructor(message: string, options?: ErrorOptions) {
    super('not_found', 404, message, options);
  }
}

export class ConflictError extends BosunError {
  constructor(message: string, options?: ErrorOptions) {
    super('conflict', 409, message, options);
  }
}

/**
 * A DNS delta against a record-set version the agent does not have (src/common/contracts/dns-records.ts);
 * `details.version` is the version the agent has. The director answers with the whole set.
 */
export class DnsVersionMismatchError extends BosunError {
  declare readonly details: { version: number };

  constructor(message: string, options: ErrorOptions & { details: { version: number } }) {
    super('dns_version_mismatch', 409, message, options);
  }
}

export class UnauthorizedError extends BosunError {
  constructor(message: string, options?: ErrorOptions) {
    super('unauthorized', 401, message, options);
  }
}

export class ForbiddenError extends BosunError {
  constructor(message: string, options?: ErrorOptions) {
    super('forbidden', 403, message, options);
  }
}

export class TimeoutError extends BosunError {
  constructor(message: string, options?: ErrorOptions) {
    super('timeout', 504, message, options);
  }
}

export class CancelledError extends BosunError {
  constructor(message: string, options?: ErrorOptions) {
    super('cancelled', 409, message, options);
  }
}

export class UnavailableError extends BosunError {
  constructor(message: string, options?: ErrorOptions) {
    super('unavailable', 503, message, options);
  }
}

export class InternalError extends BosunError {
  constructor(message: string, options?: ErrorOptions) {
    super('internal', 500, message, options);
  }
}

/** The one JSON error shape every bosun HTTP API returns. */
export interface ErrorBody {
  error: { code: ErrorCode; message: string; details?: unknown };
}

export function toErrorBody(err: unknown): { status: number; body: ErrorBody } {
  if (err instanceof BosunError) {
    const body: ErrorBody = { error: { code: err.code, message: err.message } };
    if (err.details !== undefined) body.error.details = err.details;
    return { status: err.httpStatus, body };
  }
  return { status: 500, body: { error: { code: 'internal', message: errorMessage(err) } } };
}

/**
 * Rebuilds a typed error from the JSON error shape received over HTTP (or from a failed agent
 * task's `error`, which has no status of its own: pass undefined). The error is an instance of the
 * class its code stands for (a `not_found` body becomes a NotFoundError), with its `details`.
 */
export function fromErrorBody(status: number | undefined, body: unknown): BosunError {
  const e = (body as Partial<ErrorBody> | undefined)?.error;
  const known = typeof e?.code === 'string' && e.code in HTTP_STATUS_OF_CODE ? e.code : undefined;
  const httpStatus = status ?? (known ? HTTP_STATUS_OF_CODE[known] : 500);
  const code: ErrorCode = known ?? codeOfStatus(httpStatus);
  const message = typeof e?.message === 'string' ? e.message : `HTTP ${httpStatus}`;
  const options: ErrorOptions = e?.details === undefined ? {} : { details: e.details };
  const Class = ERROR_CLASSES[code];
  const err = Class ? new Class(message, options) : new BosunError(code, httpStatus, message, options);
  return err.httpStatus === httpStatus ? err : new BosunError(code, httpStatus, message, options);
}

/** The code a bare HTTP status stands for, when a body names none. */
export function codeOfStatus(status: number): ErrorCode {
  if (status === 401) return 'unauthorized';
  if (status === 403) return 'forbidden';
  if (status === 404) return 'not_found';
  if (status === 409) return 'conflict';
  if (status === 503) return 'unavailable';
  if (status === 504) return 'timeout';
  return status >= 500 ? 'internal' : 'invalid_input';
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/** One problem found in a manifest, with where it is (line/column are 1-based; null when unknown). */
export interface ManifestProblem {
  severity: 'error' | 'warning';
  /** e.g. `instance_groups[0].containers[1].bind_ports[0]`. */
  path: string;
  line: number | null;
  column: number | null;
  message: string;
  /** The file the line/column are in, when it is not the manifest itself (an ops file, a vars file). */
  file?: string;
}

/** `path (line L, col C): message`, the one way a manifest problem is printed. */
export function formatManifestProblem(p: ManifestProblem): string {
  const where =
    p.line === null ? '' : ` (${p.file === undefined ? '' : `${p.file} `}line ${p.line}, col ${p.column ?? 1})`;
  return `${p.path || '(manifest)'}${where}: ${p.message}`;
}

/** A manifest that cannot be deployed; `details.problems` lists every error (and warning) at once. */
export class InvalidManifestError extends BosunError {
  declare readonly details: { problems: ManifestProblem[] };

  /** `what`: the kind of file, "manifest" unless said (e.g. "cloud config"). */
  constructor(problems: ManifestProblem[], options: { fileName?: string; cause?: unknown; what?: string } = {}) {
    const errors = problems.filter((p) => p.severity === 'error');
    const kind = options.what ?? 'manifest';
    const what = options.fileName ? `The ${kind} ${options.fileName}` : `The ${kind}`;
    const header = `${what} is invalid (${errors.length} ${errors.length === 1 ? 'error' : 'errors'}); fix the following and try again:`;
    super('invalid_manifest', 422, [header, ...errors.map(formatManifestProblem)].join('\n'), {
      cause: options.cause,
      details: { problems },
    });
  }
}

const ERROR_CLASSES: Partial<Record<ErrorCode, new (message: string, options?: ErrorOptions) => BosunError>> = {
  invalid_input: InvalidInputError,
  not_found: NotFoundError,
  conflict: ConflictError,
  dns_version_mismatch: DnsVersionMismatchError as new (message: string, options?: ErrorOptions) => BosunError,
  unauthorized: UnauthorizedError,
  forbidden: ForbiddenError,
  timeout: TimeoutError,
  cancelled: CancelledError,
  unavailable: UnavailableError,
  internal: InternalError,
};
