/**
 * The bodies agents post (heartbeats, alerts), validated whole before the director reads them: an
 * agent runs on a VM whose root may be anyone, so a malformed body is a 400 that says what is
 * wrong, never a TypeError deep in the health monitor (a 500).
 */
import { z } from 'zod';
import type { AgentAlert, ContainerRunState, Heartbeat } from '../../../common/contracts/agent-protocol.js';
import { InvalidInputError } from '../../../common/errors.js';

/**
 * Agent-supplied strings are bounded: they end up in the store, alerts and logs. Numbers are only
 * required to be numbers (a vitals reading off by a sign must not make a live agent look dead:
 * a refused heartbeat ends in a resurrection); counts and indexes must be whole.
 */
const name = z.string().min(1).max(256);
const label = z.string().max(256);
const count = z.number().int().nonnegative();
const percent = z.number();
const diskUsage = z.object({
  percent,
  usedBytes: z.number(),
  totalBytes: z.number(),
  inodePercent: percent.optional(),
});

export const JOB_STATES = ['running', 'failing', 'starting', 'stopped', 'unknown'] as const;
/** Every state of the contract, checked by the compiler: a state missing here made every heartbeat of its VM a 400. */
const CONTAINER_STATE_SET: Record<ContainerRunState, true> = {
  running: true,
  starting: true,
  unhealthy: true,
  restarting: true,
  stopped: true,
  exited: true,
  failed: true,
  missing: true,
};
export const CONTAINER_STATES = Object.keys(CONTAINER_STATE_SET) as [ContainerRunState, ...ContainerRunState[]];
export const ALERT_CATEGORIES = ['container_flapping', 'container_failing', 'dockerd_failing', 'disk_full', 'agent'] as const;

const heartbeatSchema = z.object({
  agentId: name,
  vmCid: name,
  deployment: label.nullable(),
  group: label.nullable(),
  index: count.nullable(),
  instanceId: label.nullable(),
  jobState: z.enum(JOB_STATES),
  containers: z
    .array(
      z.object({
        name,
        state: z.enum(CONTAINER_STATES),
        restarts: count,
        flapping: z.boolean(),
        uptimeSeconds: z.number(),
      }),
    )
    .max(1000),
  vitals: z.object({
    load: z.tuple([z.number(), z.number(), z.number()]),
    cpu: z.object({ user: z.number(), sys: z.number(), wait: z.number() }),
    mem: z.object({ percent, kb: z.number() }),
    swap: z.object({ percent, kb: z.number() }),
    disk: z.object({ system: diskUsage.optional(), ephemeral: diskUsage.optional(), persistent: diskUsage.optional() }),
  }),
  timestamp: z.iso.datetime({ offset: true }),
  // Not an address: left out rather than refusing the heartbeat (a refused heartbeat ends in a resurrection).
  ip: z.union([z.ipv4(), z.ipv6()]).optional().catch(undefined),
});

const alertSchema = z.object({
  agentId: name,
  severity: z.union([z.literal(1), z.literal(2), z.literal(3), z.literal(4)]),
  category: z.enum(ALERT_CATEGORIES),
  title: z.string().min(1).max(1000),
  summary: z.string().max(10_000),
  container: name.optional(),
  timestamp: z.iso.datetime({ offset: true }),
});

function parse<T>(schema: z.ZodType<T>, body: unknown, what: string, agentId: string): T {
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    const problems = parsed.error.issues
      .slice(0, 5)
      .map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`)
      .join('; ');
    throw new InvalidInputError(`Agent ${agentId} sent a malformed ${what}: ${problems}. Check that the agent and the director run the same bosun version.`);
  }
  if ((parsed.data as { agentId: string }).agentId !== agentId) {
    throw new InvalidInputError(`The body's agentId "${(parsed.data as { agentId: string }).agentId}" does not match the agent ${agentId} in the path.`);
  }
  return parsed.data;
}

export function parseHeartbeat(body: unknown, agentId: string): Heartbeat {
  return parse<Heartbeat>(heartbeatSchema, body, 'heartbeat', agentId);
}

export function parseAgentAlert(body: unknown, agentId: string): AgentAlert {
  return parse<AgentAlert>(alertSchema, body, 'alert', agentId);
}
