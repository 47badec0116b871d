import { pino, type Logger as PinoLogger } from 'pino';
import type { LogMeta, Logger } from './logger.js';

/** Keys whose values never reach a log line. */
const REDACTED_PATHS = ['token', 'password', 'secret', 'keyPem', 'privateKey', '*.token', '*.keyPem', '*.password'];

export interface PinoLoggerOptions {
  level?: string;
  /** File descriptor or path; defaults to stderr so that stdout stays for command output. */
  destination?: number | string;
  name?: string;
}

export function createPinoLogger(options: PinoLoggerOptions = {}): Logger {
  const dest = pino.destination({ dest: options.destination ?? 2, sync: true, mkdir: true });
  const base = pino(
    { level: options.level ?? 'info', name: options.name, redact: { paths: REDACTED_PATHS, censor: '[redacted]' } },
    dest,
  );
  return wrap(base);
}

function wrap(p: PinoLogger): Logger {
  return {
    debug: (msg: string, meta?: LogMeta) => p.debug(meta ?? {}, msg),
    info: (msg: string, meta?: LogMeta) => p.info(meta ?? {}, msg),
    warn: (msg: string, meta?: LogMeta) => p.warn(meta ?? {}, msg),
    error: (msg: string, meta?: LogMeta) => p.error(meta ?? {}, msg),
    child: (meta: LogMeta) => wrap(p.child(meta)),
  };
}
