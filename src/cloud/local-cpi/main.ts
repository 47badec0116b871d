#!/usr/bin/env node
/**
 * bosun-local-cpi: the local cloud as a BOSH external CPI. Reads one request from stdin, answers
 * on stdout, logs (JSON lines) on stderr, and exits. Configured by the request's context (the
 * director's cloud.properties: data_dir, bridge, subnet, …).
 */
import { errorMessage } from '../../common/errors.js';
import type { Logger, LogMeta } from '../../common/logger.js';
import { encodeResponse, type CpiRequest } from '../external/protocol.js';
import { serveCall } from './serve-call.js';

function stderrLogger(base: LogMeta): Logger {
  const write = (level: string) => (msg: string, meta?: LogMeta): void => {
    process.stderr.write(`${JSON.stringify({ level, msg, ...base, ...meta })}\n`);
  };
  return { debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error'), child: (meta) => stderrLogger({ ...base, ...meta }) };
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function main(): Promise<void> {
  const text = await readStdin();
  let request: CpiRequest;
  try {
    request = JSON.parse(text) as CpiRequest;
  } catch {
    process.stdout.write(encodeResponse({ result: null, error: { type: 'CpiError', message: 'bosun-local-cpi: the request on stdin is not JSON', ok_to_retry: false }, log: '' }));
    return;
  }
  const context = (request.context ?? {}) as Record<string, unknown>;
  const logger = stderrLogger({ cpi: 'bosun-local-cpi', method: request.method, request_id: context['request_id'] });
  const response = await serveCall(request, logger);
  process.stdout.write(encodeResponse(response));
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stdout.write(encodeResponse({ result: null, error: { type: 'CpiError', message: `bosun-local-cpi failed: ${errorMessage(err)}`, ok_to_retry: false }, log: '' }));
    process.exit(1);
  },
);
