import type { TLSSocket } from 'node:tls';
import type { FastifyRequest } from 'fastify';
import { ForbiddenError, UnauthorizedError } from '../../../common/errors.js';
import type { DirectorService } from '../../director-service.js';
import type { ApiMetrics } from '../metrics.js';
import { objectSchema, str, type RouteSpec } from '../route-spec.js';
import { parseAgentAlert, parseHeartbeat } from './agent-bodies.js';

const agentParams = objectSchema({ agentId: str }, ['agentId']);
// The body is checked whole by agent-bodies.ts (zod), with messages that name the field.
const anyObject = { type: 'object' };

/**
 * Internal routes the agents call. They are authenticated by the agent's client certificate:
 * issued by the director's CA, with CN = the agent id in the path (one agent cannot speak for another).
 */
export function agentRoutes(director: DirectorService, metrics: ApiMetrics): RouteSpec[] {
  return [
    {
      method: 'POST',
      url: '/internal/v1/agents/:agentId/heartbeat',
      tag: 'agents',
      auth: 'agent',
      params: agentParams,
      body: anyObject,
      summary: 'An agent heartbeat',
      response: '{ ok: true }',
      handler: async (req) => {
        const heartbeat = parseHeartbeat(req.body, agentIdOf(req));
        metrics.countHeartbeat(heartbeat.jobState);
        await director.recordHeartbeat(heartbeat);
        return { ok: true };
      },
    },
    {
      method: 'POST',
      url: '/internal/v1/agents/:agentId/alerts',
      tag: 'agents',
      auth: 'agent',
      params: agentParams,
      body: anyObject,
      summary: 'An alert raised by an agent',
      response: '{ ok: true }',
      handler: async (req) => {
        const alert = parseAgentAlert(req.body, agentIdOf(req));
        metrics.countAgentAlert(alert.category);
        await director.recordAgentAlert(alert);
        return { ok: true };
      },
    },
  ];
}

function agentIdOf(req: FastifyRequest): string {
  return (req.params as { agentId: string }).agentId;
}

/** Checks the TLS client certificate of an agent route; throws 401/403 with what is wrong. */
export function authenticateAgent(req: FastifyRequest): void {
  const socket = req.raw.socket as Partial<TLSSocket>;
  const { agentId } = req.params as { agentId: string };
  if (typeof socket.getPeerCertificate !== 'function') {
    throw new UnauthorizedError('Agent routes are only served over TLS with a client certificate.');
  }
  const cert = socket.getPeerCertificate();
  if (!cert || Object.keys(cert).length === 0) {
    throw new UnauthorizedError(
      `Agent ${agentId}: this route needs the agent's client certificate (issued by the director's CA).`,
    );
  }
  if (!socket.authorized) {
    throw new UnauthorizedError(
      `Agent ${agentId}: the client certificate was not issued by this director's CA (${String(socket.authorizationError ?? 'unknown reason')}).`,
    );
  }
  const cn = cert.subject?.CN;
  if (cn !== agentId) {
    throw new ForbiddenError(
      `The client certificate belongs to agent "${String(cn)}", not to agent ${agentId}.`,
    );
  }
}
