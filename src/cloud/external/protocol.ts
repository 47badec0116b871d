/**
 * The external CPI protocol's wire format (BOSH external_cpi.rb): one JSON request on the CPI's
 * stdin, one JSON response on its stdout. This file only encodes and decodes; running the
 * executable is cpi-runner.ts, the Cloud mapping external-cloud.ts.
 */
import {
  CloudError,
  DiskNotAttachedError,
  DiskNotFoundError,
  NoDiskSpaceError,
  NotSupportedError,
  VmCreationFailedError,
  VmNotFoundError,
} from '../cloud.js';

/** The highest CPI API version bosun speaks (bosh-cpi-go rejects anything above 2 as well). */
export const MAX_CPI_API_VERSION = 2;

export interface CpiRequest {
  method: string;
  arguments: unknown[];
  context: Record<string, unknown>;
  /** Absent on `info` (the version is not negotiated yet). */
  api_version?: number;
}

export interface CpiErrorBody {
  type: string;
  message: string;
  ok_to_retry: boolean;
}

export interface CpiResponse {
  result: unknown;
  error: CpiErrorBody | null;
  log: string;
}

/** The CPI answered something that is not a protocol response (BOSH's InvalidResponse). */
export class CpiInvalidResponseError extends CloudError {
  override readonly type = 'InvalidResponse';
}

/** An error type a CPI answered that bosun has no class for (BOSH's UnknownError). */
export class CpiUnknownError extends CloudError {
  override readonly type = 'UnknownError';
}

/**
 * BOSH NotImplemented: the CPI does not know the method at all. A NotSupportedError, so that
 * callers that fall back (resize by copy) treat both alike.
 */
export class NotImplementedError extends NotSupportedError {
  override readonly type: string = 'NotImplemented';
  constructor(method: string, detail: string) {
    super(method);
    this.message = `${method} is not implemented by this CPI (${detail})`;
  }
}

export function encodeRequest(request: CpiRequest): string {
  return JSON.stringify(request);
}

export function encodeResponse(response: CpiResponse): string {
  return JSON.stringify(response);
}

/**
 * Parses a CPI's stdout. Throws CpiInvalidResponseError (naming `where`, e.g. "CPI /x/cpi,
 * method create_vm") when it is not JSON or not `{result, error, log}`.
 */
export function decodeResponse(stdout: string, where: string): CpiResponse {
  let value: unknown;
  try {
    value = JSON.parse(stdout);
  } catch {
    throw new CpiInvalidResponseError(`${where} did not answer with JSON: ${preview(stdout)}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new CpiInvalidResponseError(`${where} answered ${preview(stdout)}, not an object {result, error, log}`);
  }
  const v = value as Record<string, unknown>;
  if (!('result' in v) || !('error' in v)) {
    throw new CpiInvalidResponseError(`${where} answered without "result" and "error": ${preview(stdout)}`);
  }
  const log = typeof v['log'] === 'string' ? v['log'] : '';
  const error = v['error'];
  if (error === null || error === undefined) return { result: v['result'], error: null, log };
  if (typeof error !== 'object' || Array.isArray(error)) {
    throw new CpiInvalidResponseError(`${where} answered an "error" that is not {type, message, ok_to_retry}: ${preview(stdout)}`);
  }
  const e = error as Record<string, unknown>;
  return {
    result: v['result'],
    error: {
      type: typeof e['type'] === 'string' ? e['type'] : 'UnknownError',
      message: typeof e['message'] === 'string' ? e['message'] : JSON.stringify(error),
      ok_to_retry: e['ok_to_retry'] === true,
    },
    log,
  };
}

/** True for the answers older CPIs give to a method they do not know (BOSH treats them as NotImplemented). */
function isUnknownMethod(error: CpiErrorBody): boolean {
  return (
    error.type === 'NotImplemented' ||
    (error.type === 'InvalidCall' && /method is not known/i.test(error.message)) ||
    (error.type === 'CloudError' && /invalid method/i.test(error.message))
  );
}

/**
 * The typed bosun error of a CPI error answer. `method` is the CPI method; `subject` holds the
 * cids of the call so that VMNotFound/DiskNotFound name them.
 */
export function cloudErrorOf(error: CpiErrorBody, where: string, subject: { vmCid?: string; diskCid?: string }): CloudError {
  const okToRetry = error.ok_to_retry;
  const message = `${where} failed with ${error.type}: ${error.message}`;
  // bosh-cpi-go and bosh-cpi-ruby name them as BOSH's Ruby classes: Bosh::Clouds::CloudError.
  const type = error.type.replace(/^Bosh::Clouds::/, '');
  if (isUnknownMethod({ ...error, type })) return new NotImplementedError(where, `${error.type}: ${error.message}`);
  switch (type) {
    case 'NotSupported':
      return withMessage(new NotSupportedError(where), `${where} is not supported by this CPI: ${error.message}`);
    case 'VMNotFound':
      return withMessage(new VmNotFoundError(subject.vmCid ?? '(unknown)'), message);
    case 'DiskNotFound':
      return withMessage(new DiskNotFoundError(subject.diskCid ?? '(unknown)'), message);
    case 'DiskNotAttached':
      return withMessage(new DiskNotAttachedError(subject.vmCid ?? '(unknown)', subject.diskCid ?? '(unknown)'), message);
    case 'VMCreationFailed':
      return new VmCreationFailedError(message, { okToRetry });
    case 'NoDiskSpace':
      return new NoDiskSpaceError(message, { okToRetry });
    case 'CloudError':
    case 'CpiError':
    case 'NetworkNotFound':
      return new CloudError(message, { okToRetry });
    default:
      return new CpiUnknownError(message, { okToRetry });
  }
}

/** The typed errors whose constructors build their own message get the CPI's words instead (they are not ok to retry). */
function withMessage<E extends CloudError>(err: E, message: string): E {
  err.message = message;
  return err;
}

function preview(text: string): string {
  const t = text.trim();
  if (t === '') return '(nothing on stdout)';
  return JSON.stringify(t.length > 300 ? `${t.slice(0, 300)}…` : t);
}
