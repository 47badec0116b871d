/**
 * Health monitor, resurrector and responder settings: the director config file's `health:`,
 * `resurrector:` and `responders:` sections become this validated, defaulted, typed config here
 * and nowhere else. Durations are written like "10s"; BOSH's defaults are much slower (agent
 * timeout 60 s, analysis every 60 s) — bosun aims to replace a lost VM in well under 20 s.
 */
import { z } from 'zod';
import { InvalidInputError } from '../../common/errors.js';
import { durationMsSchema } from '../../common/duration.js';

export interface HealthConfig {
  /** Interval the agents are told to heartbeat at. */
  heartbeatIntervalMs: number;
  /** An agent without a heartbeat for this long is unresponsive (the config's health.agent_timeout). */
  heartbeatTimeoutMs: number;
  /** How often instances, VMs and heartbeats are analysed. */
  analyzeIntervalMs: number;
  /** A VM or agent nobody owns is reported once it was seen for this long (BOSH: rogue_agent_alert 120 s). */
  rogueAlertMs: number;
  /** Persistent or ephemeral disk usage above this percentage raises an alert. */
  diskFullPercent: number;
  /** Alerts the agent posts itself (dockerd failing …) are not repeated within this time. */
  agentAlertRepeatMs: number;
}

export interface MeltdownConfig {
  minimumDownJobs: number;
  percentThreshold: number;
  timeThresholdMs: number;
}

export interface ResurrectorConfig {
  /** Global default; each deployment may override it (`bosun update-resurrection`). */
  enabled: boolean;
  meltdown: MeltdownConfig;
  /** First wait before a failed resurrection of the same instance is tried again; doubles up to 10 min. */
  retryIntervalMs: number;
  /** How long to wait for the old VM to be gone (fencing) before giving up. */
  vmDeleteTimeoutMs: number;
  /** How long to wait for a new VM's agent to answer. */
  agentWaitTimeoutMs: number;
  /** How long the containers may take to be running after the spec was applied. */
  watchTimeoutMs: number;
}

export type ResponderConfig =
  | { type: 'log'; minSeverity: number }
  | {
      type: 'webhook';
      minSeverity: number;
      url: string;
      headers: Record<string, string>;
      timeoutMs: number;
      attempts: number;
    }
  | {
      type: 'email';
      minSeverity: number;
      host: string;
      port: number;
      secure: boolean;
      user?: string;
      password?: string;
      from: string;
      to: string[];
      timeoutMs: number;
    }
  | {
      type: 'pagerduty';
      minSeverity: number;
      url: string;
      routingKey: string;
      timeoutMs: number;
      attempts: number;
    };

/**
 * What a responder's constructor takes: its config entry without the discriminator, with
 * `minSeverity` defaulted (warning) and any extras the responder allows on top.
 */
export type ResponderOptions<T extends ResponderConfig['type'], Extra = object> = Omit<
  Extract<ResponderConfig, { type: T }>,
  'type' | 'minSeverity'
> & { minSeverity?: number } & Extra;

export interface HealthSettings {
  health: HealthConfig;
  resurrector: ResurrectorConfig;
  responders: ResponderConfig[];
}

export const DEFAULT_HEALTH: HealthConfig = {
  heartbeatIntervalMs: 2_000,
  heartbeatTimeoutMs: 10_000,
  analyzeIntervalMs: 1_000,
  rogueAlertMs: 120_000,
  diskFullPercent: 90,
  agentAlertRepeatMs: 300_000,
};

export const DEFAULT_RESURRECTOR: ResurrectorConfig = {
  enabled: true,
  meltdown: { minimumDownJobs: 5, percentThreshold: 20, timeThresholdMs: 600_000 },
  retryIntervalMs: 30_000,
  vmDeleteTimeoutMs: 60_000,
  agentWaitTimeoutMs: 120_000,
  watchTimeoutMs: 120_000,
};

const duration = durationMsSchema;
// Severity filter: a responder only gets alerts at least this severe (1 most severe … 4 least).
const minSeverity = z.number().int().min(1).max(4).default(4);

const responderSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('log'), min_severity: minSeverity }).strict(),
  z
    .object({
      type: z.literal('webhook'),
      min_severity: minSeverity,
      url: z.url(),
      headers: z.record(z.string(), z.string()).default({}),
      timeout: duration.default(5_000),
      attempts: z.number().int().min(1).max(10).default(4),
    })
    .strict(),
  z
    .object({
      type: z.literal('email'),
      min_severity: minSeverity,
      smtp: z
        .object({
          host: z.string().min(1),
          port: z.number().int().min(1).max(65535).default(25),
          secure: z.boolean().default(false),
          user: z.string().optional(),
          password: z.string().optional(),
        })
        .strict(),
      from: z.string().min(1),
      to: z.array(z.string().min(1)).min(1),
      timeout: duration.default(10_000),
    })
    .strict(),
  z
    .object({
      type: z.literal('pagerduty'),
      min_severity: minSeverity,
      url: z.url(),
      routing_key: z.string().min(1),
      timeout: duration.default(5_000),
      attempts: z.number().int().min(1).max(10).default(4),
    })
    .strict(),
]);

const rawSchema = z
  .object({
    health: z
      .object({
        heartbeat_interval: duration.optional(),
        agent_timeout: duration.optional(),
        analyze_interval: duration.optional(),
        rogue_alert: duration.optional(),
        disk_full_percent: z.number().min(1).max(100).optional(),
        agent_alert_repeat: duration.optional(),
      })
      .strict()
      .default({}),
    resurrector: z
      .object({
        enabled: z.boolean().optional(),
        minimum_down_jobs: z.number().int().min(1).optional(),
        percent_threshold: z.number().min(0).max(100).optional(),
        time_threshold: duration.optional(),
        retry_interval: duration.optional(),
        vm_delete_timeout: duration.optional(),
        agent_wait_timeout: duration.optional(),
        watch_timeout: duration.optional(),
      })
      .strict()
      .default({}),
    responders: z.array(responderSchema).default([]),
  })
  .loose();

/**
 * Turns the raw config file sections (`health`, `resurrector`, `responders`) into settings; other
 * keys of the same object are ignored, so the whole director config may be passed in.
 */
export function parseHealthSettings(
  raw: unknown,
  /** Values from the director's own config (top-level agent_timeout, heartbeat_interval, resurrection), used where these sections are silent. */
  fallback: { heartbeatIntervalMs?: number; agentCallTimeoutMs?: number; resurrectionEnabled?: boolean } = {},
): HealthSettings {
  const parsed = rawSchema.safeParse(raw ?? {});
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${i.path.join('.') || '(config)'}: ${i.message}`);
    throw new InvalidInputError(
      `The director config's health settings are invalid; fix these and restart:\n${lines.join('\n')}`,
    );
  }
  const { health: h, resurrector: r, responders } = parsed.data;
  const health: HealthConfig = {
    heartbeatIntervalMs:
      h.heartbeat_interval ?? fallback.heartbeatIntervalMs ?? DEFAULT_HEALTH.heartbeatIntervalMs,
    heartbeatTimeoutMs: h.agent_timeout ?? DEFAULT_HEALTH.heartbeatTimeoutMs,
    analyzeIntervalMs: h.analyze_interval ?? DEFAULT_HEALTH.analyzeIntervalMs,
    rogueAlertMs: h.rogue_alert ?? DEFAULT_HEALTH.rogueAlertMs,
    diskFullPercent: h.disk_full_percent ?? DEFAULT_HEALTH.diskFullPercent,
    agentAlertRepeatMs: h.agent_alert_repeat ?? DEFAULT_HEALTH.agentAlertRepeatMs,
  };
  if (h.agent_timeout === undefined && fallback.agentCallTimeoutMs !== undefined) {
    // Without health.agent_timeout, an agent is unresponsive after the director's agent-call
    // timeout (top-level agent_timeout), as before; it must still leave room for two missed heartbeats.
    health.heartbeatTimeoutMs = Math.max(fallback.agentCallTimeoutMs, 2 * health.heartbeatIntervalMs + 1_000);
  }
  if (health.heartbeatTimeoutMs <= health.heartbeatIntervalMs) {
    throw new InvalidInputError(
      `health.agent_timeout (${health.heartbeatTimeoutMs} ms) must be longer than health.heartbeat_interval ` +
        `(${health.heartbeatIntervalMs} ms), or every agent would look unresponsive; raise agent_timeout.`,
    );
  }
  const resurrector: ResurrectorConfig = {
    enabled: r.enabled ?? fallback.resurrectionEnabled ?? DEFAULT_RESURRECTOR.enabled,
    meltdown: {
      minimumDownJobs: r.minimum_down_jobs ?? DEFAULT_RESURRECTOR.meltdown.minimumDownJobs,
      percentThreshold: r.percent_threshold ?? DEFAULT_RESURRECTOR.meltdown.percentThreshold,
      timeThresholdMs: r.time_threshold ?? DEFAULT_RESURRECTOR.meltdown.timeThresholdMs,
    },
    retryIntervalMs: r.retry_interval ?? DEFAULT_RESURRECTOR.retryIntervalMs,
    vmDeleteTimeoutMs: r.vm_delete_timeout ?? DEFAULT_RESURRECTOR.vmDeleteTimeoutMs,
    agentWaitTimeoutMs: r.agent_wait_timeout ?? DEFAULT_RESURRECTOR.agentWaitTimeoutMs,
    watchTimeoutMs: r.watch_timeout ?? DEFAULT_RESURRECTOR.watchTimeoutMs,
  };
  return {
    health,
    resurrector,
    responders: responders.map((x): ResponderConfig => {
      switch (x.type) {
        case 'log':
          return { type: 'log', minSeverity: x.min_severity };
        case 'webhook':
          return {
            type: 'webhook',
            minSeverity: x.min_severity,
            url: x.url,
            headers: x.headers,
            timeoutMs: x.timeout,
            attempts: x.attempts,
          };
        case 'email':
          return {
            type: 'email',
            minSeverity: x.min_severity,
            host: x.smtp.host,
            port: x.smtp.port,
            secure: x.smtp.secure,
            user: x.smtp.user,
            password: x.smtp.password,
            from: x.from,
            to: x.to,
            timeoutMs: x.timeout,
          };
        case 'pagerduty':
          return {
            type: 'pagerduty',
            minSeverity: x.min_severity,
            url: x.url,
            routingKey: x.routing_key,
            timeoutMs: x.timeout,
            attempts: x.attempts,
          };
      }
    }),
  };
}
