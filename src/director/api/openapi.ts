import type { RouteSpec } from './route-spec.js';

/**
 * Builds the OpenAPI 3 description from the same route list fastify serves, so that it cannot
 * drift from the routes. Response shapes are named after the interfaces in types.ts.
 */
export function buildOpenApi(routes: RouteSpec[], version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const path = route.url.replace(/:([A-Za-z]+)/g, '{$1}');
    const parameters = [
      ...schemaParameters(route.params, 'path'),
      ...schemaParameters(route.querystring, 'query'),
    ];
    const operation: Record<string, unknown> = {
      summary: route.summary,
      tags: [route.tag],
      operationId: `${route.method.toLowerCase()}${path.replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ?? '').toUpperCase())}`,
      parameters,
      responses: {
        '200': {
          description: route.response,
          content: route.response.startsWith('text') ? { 'text/plain': {} } : { 'application/json': {} },
        },
        default: {
          description: 'ErrorBody: { error: { code, message, details? } }',
          content: { 'application/json': { schema: { $ref: '#/components/schemas/ErrorBody' } } },
        },
      },
      security:
        route.auth === 'token'
          ? [{ bearerToken: [] }]
          : route.auth === 'agent'
            ? [{ agentCertificate: [] }]
            : [],
    };
    if (route.body)
      operation['requestBody'] = { required: true, content: { 'application/json': { schema: route.body } } };
    if (route.bodyMediaType)
      operation['requestBody'] = {
        required: true,
        content: { [route.bodyMediaType]: { schema: { type: 'string', format: 'binary' } } },
      };
    (paths[path] ??= {})[route.method.toLowerCase()] = operation;
  }
  return {
    openapi: '3.0.3',
    info: { title: 'bosun director API', version },
    paths,
    components: {
      securitySchemes: {
        bearerToken: {
          type: 'http',
          scheme: 'bearer',
          description: 'The API token `bosun up` writes to ~/.bosun/config.',
        },
        agentCertificate: {
          type: 'mutualTLS',
          description: "The agent's client certificate, signed by the director's CA, with CN = agent id.",
        },
      },
      schemas: {
        ErrorBody: {
          type: 'object',
          required: ['error'],
          properties: {
            error: {
              type: 'object',
              required: ['code', 'message'],
              properties: { code: { type: 'string' }, message: { type: 'string' }, details: {} },
            },
          },
        },
      },
    },
  };
}

function schemaParameters(schema: Record<string, unknown> | undefined, where: 'path' | 'query'): unknown[] {
  if (!schema) return [];
  const properties = (schema['properties'] ?? {}) as Record<string, unknown>;
  const required = new Set((schema['required'] ?? []) as string[]);
  return Object.entries(properties).map(([name, s]) => ({
    name,
    in: where,
    required: where === 'path' || required.has(name),
    schema: s,
  }));
}
