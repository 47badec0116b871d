import type { TLSSocket } from 'node:tls';
import Fastify, { type FastifyInstance } from 'fastify';
import type { AgentApi, MigrateDiskProgress, MigrateDiskRequest, MountDiskRequest } from '../../common/contracts/agent-protocol.js';
import type { AgentSettings } from '../../common/contracts/agent-settings.js';
import { AGENT_API_PREFIX } from '../../common/contracts/agent-protocol.js';
import type { InstanceSpec } from '../../common/contracts/instance-spec.js';
import type { DnsPush } from '../../common/contracts/dns-records.js';
import type { Logger } from '../../common/logger.js';
import { InvalidInputError, NotFoundError } from '../../common/errors.js';
import { installErrorHandler } from '../../common/http/server-errors.js';
import { TaskRegistry, type TaskWork } from '../tasks.js';
import { allowedClientName, requireDirectorClient } from './client-identity.js';

type Body = Record<string, unknown>;

/** Quick actions answer `{value}` at once. Arguments come from the JSON body. */
const QUICK_ACTIONS: Record<string, (api: AgentApi, body: Body) => Promise<unknown>> = {
  ping: (api) => api.ping(),
  get_state: (api, b) => api.getState({ vitals: b.vitals === true }),
  list_disk: (api) => api.listDisk(),
  fetch_logs: (api, b) => api.fetchLogs(requireString(b, 'container'), typeof b.lines === 'number' ? b.lines : undefined),
  run_command: (api, b) => api.runCommand(requireString(b, 'command'), typeof b.timeoutMs === 'number' ? b.timeoutMs : undefined),
};

/** Long actions answer 202 `{task}`; the director polls GET /agent/v1/tasks/:id and may cancel_task it. */
const LONG_ACTIONS: Record<string, (api: AgentApi, body: Body, task: TaskWork) => Promise<unknown>> = {
  apply: (api, b, t) => api.apply(requireObject(b, 'spec') as unknown as InstanceSpec, { signal: t.signal }),
  start: (api, _b, t) => api.start({ signal: t.signal }),
  stop: (api, _b, t) => api.stop({ signal: t.signal }),
  drain: (api, _b, t) => api.drain({ signal: t.signal }),
  mount_disk: (api, b, t) => api.mountDisk(b as unknown as MountDiskRequest, { signal: t.signal }),
  unmount_disk: (api, b, t) => api.unmountDisk(requireString(b, 'diskCid'), { signal: t.signal }),
  migrate_disk: (api, b, t) =>
    requireMigrate(api)(b as unknown as MigrateDiskRequest, { signal: t.signal, onProgress: (p: MigrateDiskProgress) => t.progress(p) }),
};

/**
 * The agent's HTTPS API with mutual TLS: only clients with a certificate signed by the director's
 * CA (with clientAuth usage) get past the TLS handshake (requestCert + rejectUnauthorized), and only
 * the director's own certificate gets an answer (client-identity.ts).
 */
export async function createAgentServer(api: AgentApi, settings: AgentSettings, log: Logger): Promise<FastifyInstance> {
  const tasks = new TaskRegistry(log.child({ part: 'tasks' }));
  const app = Fastify({
    logger: false,
    bodyLimit: 16 * 1024 * 1024,
    https: { ca: settings.caPem, cert: settings.certPem, key: settings.keyPem, requestCert: true, rejectUnauthorized: true },
  });
  const directorName = allowedClientName(settings);
  app.addHook('onRequest', (req, _reply, done) => {
    requireDirectorClient(req.raw.socket as Partial<TLSSocket>, directorName);
    done();
  });

  installErrorHandler(app, {
    logger: log,
    noRoute: (method, path) => `There is no agent endpoint ${method} ${path}; see src/common/contracts/agent-protocol.ts for the wire format.`,
  });

  app.post<{ Params: { action: string }; Body: Body | undefined }>(`${AGENT_API_PREFIX}/actions/:action`, async (req, reply) => {
    const { action } = req.params;
    const body = req.body && typeof req.body === 'object' ? req.body : {};
    if (action === 'cancel_task') return { value: tasks.cancel(requireString(body, 'taskId')) };
    const quick = QUICK_ACTIONS[action];
    if (quick) return { value: await quick(api, body) };
    const long = LONG_ACTIONS[action];
    if (long) {
      const task = tasks.start(action, (work) => long(api, body, work));
      return reply.status(202).send({ task });
    }
    throw new NotFoundError(`The agent has no action "${action}"; known actions: ${[...Object.keys(QUICK_ACTIONS), 'cancel_task', ...Object.keys(LONG_ACTIONS)].join(', ')}.`);
  });

  // Service discovery (src/common/contracts/dns-records.ts): the body is validated by the agent's record store.
  app.put<{ Body: unknown }>(`${AGENT_API_PREFIX}/dns`, async (req) => api.updateDns(req.body as DnsPush));
  app.get(`${AGENT_API_PREFIX}/dns`, async () => api.getDns());

  app.get<{ Params: { id: string } }>(`${AGENT_API_PREFIX}/tasks/:id`, async (req) => {
    const task = tasks.get(req.params.id);
    if (!task) throw new NotFoundError(`The agent has no task ${req.params.id}; it may have restarted since the task was started.`);
    return task;
  });

  await app.listen({ host: settings.listen.host, port: settings.listen.port });
  return app;
}

function requireMigrate(api: AgentApi): NonNullable<AgentApi['migrateDisk']> {
  if (!api.migrateDisk) throw new NotFoundError('This agent cannot migrate disks (no migrate_disk); upgrade the agent.');
  return api.migrateDisk.bind(api);
}

function requireString(body: Body, key: string): string {
  const v = body[key];
  if (typeof v !== 'string' || v === '') throw new InvalidInputError(`The action needs a string "${key}" in its JSON body.`);
  return v;
}

function requireObject(body: Body, key: string): Record<string, unknown> {
  const v = body[key];
  if (!v || typeof v !== 'object') throw new InvalidInputError(`The action needs an object "${key}" in its JSON body.`);
  return v as Record<string, unknown>;
}
