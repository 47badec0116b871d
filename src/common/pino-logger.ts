import { pino, type Logger as PinoLogger } from 'pino';
import type { LogMeta, Logger } from './logger.js';
import { redactText, redactValue } from './redact.js';

/**
 * Secrets never reach a log line: every message and every meta object (at any depth, child
 * bindings too) goes through the one redaction module (redact.ts) before pino sees it.
 */
const clean = (meta: LogMeta | undefined): LogMeta => (meta === undefined ? {} : (redactValue(meta) as LogMeta));

export interface PinoLoggerOptions {
  level?: string;
  /** File descriptor or path; defaults to stderr so that stdout stays for command output. */
  destination?: number | string;
  name?: string;
}

export function createPinoLogger(options: PinoLoggerOptions = {}): Logger {
  const dest = pino.destination({ dest: options.destination ?? 2, sync: true, mkdir: true });
  const base = pino(
    { level: options.level ?? 'info', name: options.name },
    dest,
  );
  return wrap(base);
}

function wrap(p: PinoLogger): Logger {
  // Redaction costs a copy of the meta object: only for lines that are written.
  const at =
    (level: 'debug' | 'info' | 'warn' | 'error') =>
    (msg: string, meta?: LogMeta): void => {
      if (p.isLevelEnabled(level)) p[level](clean(meta), redactText(msg));
    };
  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: (meta: LogMeta) => wrap(p.child(clean(meta))),
  };
}
