import type { FastifyReply, FastifyRequest } from 'fastify';

/** Who may call a route: an API token holder, an agent with its client certificate, or anyone. */
export type RouteAuth = 'token' | 'agent' | 'none';

export type JsonSchema = Record<string, unknown>;

/**
 * One route of the director API, declared once: fastify registers it (with its schemas, so that
 * bad input is a 400 before a handler runs) and the OpenAPI document is generated from the same list.
 */
export interface RouteSpec {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** fastify syntax: /api/v1/deployments/:name */
  url: string;
  summary: string;
  tag: string;
  auth: RouteAuth;
  params?: JsonSchema;
  querystring?: JsonSchema;
  body?: JsonSchema;
  /** Request body media type when it is not JSON (the image upload streams a tarball). */
  bodyMediaType?: string;
  /** The body is a streamed upload: no JSON body limit, no request timeout (the route bounds it itself). */
  upload?: boolean;
  /** Largest JSON body; default: the API's manifest limit when the body has a `manifest`, else its JSON limit. */
  bodyLimitBytes?: number;
  /** Name of the response shape in src/director/api/types.ts, for the OpenAPI description. */
  response: string;
  /** The value is sent as JSON with status 200 unless the handler already sent a reply. */
  handler: (request: FastifyRequest, context: RouteContext, reply: FastifyReply) => Promise<unknown>;
}

export interface RouteContext {
  /** The user behind the API token ('' on agent and public routes). */
  user: string;
}

export const str = { type: 'string', minLength: 1 } as const;
export const int = { type: 'integer', minimum: 0 } as const;
/** A `?x=1` style flag. */
export const flag = { type: 'string', enum: ['0', '1', 'true', 'false'] } as const;

export function isSet(value: unknown): boolean {
  return value === '1' || value === 'true';
}

export function objectSchema(properties: Record<string, unknown>, required: string[] = []): JsonSchema {
  return { type: 'object', properties, required, additionalProperties: false };
}
