import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CloudError,
  DiskAttachedElsewhereError,
  DiskNotFoundError,
  NotSupportedError,
  VmNotFoundError,
} from '../../../src/cloud/cloud.js';
import { ConflictError, fromErrorBody, InvalidInputError, NotFoundError } from '../../../src/common/errors.js';
import { installErrorHandler as installShared } from '../../../src/common/http/server-errors.js';
import type { Logger } from '../../../src/common/logger.js';
import { installErrorHandler } from '../../../src/director/api/error-handler.js';

function recordingLogger(): Logger & { errors: string[] } {
  const errors: string[] = [];
  const l: Logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: (msg) => errors.push(msg), child: () => l };
  return Object.assign(l, { errors });
}

const THROWERS: Record<string, () => Error> = {
  conflict: () => new ConflictError('Deployment web is locked by task 7; wait for it.', { details: { task: 7 } }),
  plain: () => new Error('something broke'),
  fenced: () => new DiskAttachedElsewhereError('disk-1', 'vm-a', 'vm-b'),
  'vm-gone': () => new VmNotFoundError('vm-9'),
  'disk-gone': () => new DiskNotFoundError('disk-9'),
  unsupported: () => new NotSupportedError('resizing a disk in place'),
  flaky: () => new CloudError('the cloud API is busy', { okToRetry: true }),
  broken: () => new CloudError('the cloud API failed'),
};

async function build(install: (app: FastifyInstance) => void): Promise<FastifyInstance> {
  const app = Fastify({ bodyLimit: 64 });
  install(app);
  app.get<{ Params: { what: string } }>('/throw/:what', (req) => {
    throw (THROWERS[req.params.what] ?? (() => new Error('unknown')))();
  });
  app.post('/typed', { schema: { body: { type: 'object', required: ['name'], properties: { name: { type: 'string' } } } } }, () => ({ ok: true }));
  await app.ready();
  return app;
}

describe('the one error mapping (director and agent servers)', () => {
  const logger = recordingLogger();
  let director: FastifyInstance;
  let agent: FastifyInstance;
  beforeAll(async () => {
    director = await build((app) => installErrorHandler(app, logger));
    agent = await build((app) => installShared(app, { logger, noRoute: (m, p) => `There is no agent endpoint ${m} ${p}.` }));
  });
  afterAll(async () => {
    await director.close();
    await agent.close();
  });

  it('answers a domain error with its status and the one error shape, and a client rebuilds it', async () => {
    const res = await director.inject({ method: 'GET', url: '/throw/conflict' });
    expect(res.statusCode).toBe(409);
    const body: unknown = res.json();
    expect(body).toEqual({ error: { code: 'conflict', message: 'Deployment web is locked by task 7; wait for it.', details: { task: 7 } } });
    const rebuilt = fromErrorBody(res.statusCode, body);
    expect(rebuilt).toBeInstanceOf(ConflictError);
    expect(rebuilt.details).toEqual({ task: 7 });
  });

  it('applies the same 4xx rules on both servers: schema → 400, bad JSON → 400, too large → 413', async () => {
    for (const app of [director, agent]) {
      const invalid = await app.inject({ method: 'POST', url: '/typed', payload: { other: 1 } });
      expect(invalid.statusCode).toBe(400);
      expect(invalid.json()).toMatchObject({ error: { code: 'invalid_input', details: expect.any(Array) as unknown } });
      const badJson = await app.inject({ method: 'POST', url: '/typed', headers: { 'content-type': 'application/json' }, payload: '{"name":' });
      expect(badJson.statusCode).toBe(400);
      expect(badJson.json()).toMatchObject({ error: { code: 'invalid_input' } });
      const tooLarge = await app.inject({ method: 'POST', url: '/typed', payload: { name: 'x'.repeat(100) } });
      expect(tooLarge.statusCode).toBe(413);
      expect(tooLarge.json()).toMatchObject({ error: { code: 'invalid_input' } });
      const noRoute = await app.inject({ method: 'GET', url: '/nowhere?secret=1' });
      expect(noRoute.statusCode).toBe(404);
      expect(noRoute.json()).toMatchObject({ error: { code: 'not_found', message: expect.stringContaining('GET /nowhere') as unknown } });
      expect(noRoute.body).not.toContain('secret');
    }
  });

  it('logs only 5xx', async () => {
    logger.errors.length = 0;
    await director.inject({ method: 'GET', url: '/throw/conflict' });
    expect(logger.errors).toEqual([]);
    const res = await agent.inject({ method: 'GET', url: '/throw/plain' });
    expect(res.statusCode).toBe(500);
    expect(res.json()).toEqual({ error: { code: 'internal', message: 'something broke' } });
    expect(logger.errors).toEqual(['request failed']);
  });

  it('turns cloud errors into domain errors at the director API', async () => {
    const cases: Array<[string, number, string, string]> = [
      ['fenced', 409, 'conflict', 'DiskAttachedElsewhere'],
      ['vm-gone', 404, 'not_found', 'VMNotFound'],
      ['disk-gone', 404, 'not_found', 'DiskNotFound'],
      ['unsupported', 409, 'conflict', 'NotSupported'],
      ['flaky', 503, 'unavailable', 'CloudError'],
      ['broken', 500, 'internal', 'CloudError'],
    ];
    for (const [what, status, code, cloudError] of cases) {
      const res = await director.inject({ method: 'GET', url: `/throw/${what}` });
      expect([what, res.statusCode]).toEqual([what, status]);
      expect(res.json()).toMatchObject({ error: { code, details: { cloudError } } });
    }
    const fenced = await director.inject({ method: 'GET', url: '/throw/fenced' });
    expect((fenced.json() as { error: { message: string } }).error.message).toMatch(/^Refusing to attach disk disk-1 to VM vm-b: it is still attached to VM vm-a/);
  });

  it('rebuilds errors without a status (a failed agent task) from their code', () => {
    expect(fromErrorBody(undefined, { error: { code: 'not_found', message: 'gone' } })).toBeInstanceOf(NotFoundError);
    expect(fromErrorBody(undefined, { error: { code: 'invalid_input', message: 'bad' } })).toBeInstanceOf(InvalidInputError);
    expect(fromErrorBody(undefined, { error: { code: 'invalid_manifest', message: 'bad' } })).toMatchObject({ httpStatus: 422 });
    expect(fromErrorBody(undefined, { error: { message: 'what' } })).toMatchObject({ code: 'internal', httpStatus: 500 });
  });
});
