/**
 * The director's configuration: raw options in, validated, defaulted, typed config out, in this
 * one place. Units are in the names. Entry points read files/env and call resolveDirectorConfig.
 */
import { join } from 'node:path';
import { z } from 'zod';
import { InvalidInputError } from '../common/errors.js';
import type { CertificateAuthority } from '../common/pki.js';

const rawSchema = z.object({
  name: z.string().min(1).default('bosun'),
  version: z.string().default('0.1.0'),
  /** Where the director keeps its database, CA and other state. */
  dataDir: z.string().min(1),
  /** SQLite file; ":memory:" for tests. Default: <dataDir>/director.sqlite. */
  databasePath: z.string().min(1).optional(),
  /** URL the agents use to reach the director (heartbeats, alerts). */
  directorUrl: z.string().url(),
  /** host:port of the image registry that every VM's dockerd uses as its mirror. */
  registryHost: z.string().optional(),
  agentWaitTimeoutMs: z.number().int().positive().default(120_000),
  /** Longest wait between pings of a VM's agent that does not answer yet (the first wait is 100 ms, growing ×1.5). */
  agentPingIntervalMs: z.number().int().positive().default(500),
  heartbeatIntervalMs: z.number().int().positive().default(2_000),
  /**
   * Timeout of one quick agent call (ping, get_state, list_disk …); the config file's top-level
   * `agent_timeout`. Not the heartbeat timeout (health.agent_timeout, HealthConfig.heartbeatTimeoutMs).
   */
  agentCallTimeoutMs: z.number().int().positive().default(10_000),
  /** Timeout of an agent `apply` (image pulls and builds included). */
  applyTimeoutMs: z.number().int().positive().default(15 * 60_000),
  /** How often the deployer polls get_state while watching an updated instance (after the min watch time). */
  watchPollIntervalMs: z.number().int().positive().default(200),
  lockTtlMs: z.number().int().positive().default(10 * 60_000),
  /** Cloud calls that fail with okToRetry are repeated (src/cloud/guarded-cloud.ts): attempts in all, the first included. */
  cloudRetryAttempts: z.number().int().positive().default(3),
  /** Wait before the first repeat, doubling up to cloudRetryMaxBackoffMs. */
  cloudRetryInitialBackoffMs: z.number().int().nonnegative().default(500),
  cloudRetryMaxBackoffMs: z.number().int().nonnegative().default(5_000),
  /** No repeat starts this long after the first attempt. */
  cloudRetryDeadlineMs: z.number().int().positive().default(60_000),
  /**
   * False for a cloud whose get_disks cannot be trusted (some CPIs answer [] always): the director's
   * own records of attachments then decide (src/cloud/recorded-attachments.ts).
   */
  cloudGetDisksTrusted: z.boolean().default(true),
  /** Orphaned disks are deleted this long after they were orphaned (BOSH: 5 days). */
  orphanedDiskRetentionMs: z.number().int().nonnegative().default(5 * 24 * 3600_000),
  /** How often the director looks for expired orphaned disks. */
  orphanedDiskSweepIntervalMs: z.number().int().positive().default(3600_000),
  /** History kept (src/store/retention.ts): finished tasks with their events, alerts, audit events. */
  retentionMaxAgeMs: z.number().int().positive().default(30 * 24 * 3600_000),
  retentionMaxTasks: z.number().int().positive().default(2000),
  retentionMaxAlerts: z.number().int().positive().default(10_000),
  retentionMaxAuditEvents: z.number().int().positive().default(10_000),
  /** How often old history is pruned (also once at start-up). */
  retentionPruneIntervalMs: z.number().int().positive().default(3600_000),
  /** Resurrection default for deployments that do not set their own. */
  resurrectionDefault: z.boolean().default(true),
  /**
   * After a crash interrupted tasks, delete the VMs the cloud lists that no instance or VM record
   * knows: a crash during createVm leaves a VM the director never learned the cid of. Only for a
   * cloud that this director owns alone (the embedded local cloud); off by default.
   */
  deleteUnknownVmsAfterCrash: z.boolean().default(false),
  /** What manifests may use (src/director/manifest-policy.ts); everything is allowed by default. */
  manifestPolicy: z
    .object({ allowPrivileged: z.boolean().default(true), allowDevices: z.boolean().default(true), allowCapAdds: z.boolean().default(true) })
    .default({ allowPrivileged: true, allowDevices: true, allowCapAdds: true }),
});

/** The director config's `stemcell` key was removed: there is one way to choose a stemcell, the manifest's (src/manifest/stemcells.ts). */
export const STEMCELL_KEY_REMOVED =
  'the key `stemcell` is no longer supported; remove it and name the stemcell in the deployment manifest instead ' +
  '(`stemcells: [{alias: default, os: debian-12, version: latest}]`, and `stemcell: default` on a group; a manifest without `stemcells` boots the newest uploaded debian-12 stemcell).';

export type DirectorConfigInput = z.input<typeof rawSchema> & {
  /** The director's CA; when absent it is loaded from (or created in) <dataDir>/ca. */
  ca?: CertificateAuthority;
};

export type DirectorConfig = z.output<typeof rawSchema> & { databasePath: string; ca?: CertificateAuthority };

export function resolveDirectorConfig(input: DirectorConfigInput): DirectorConfig {
  const { ca, ...rest } = input;
  if ('stemcell' in rest) throw new InvalidInputError(`The director configuration is invalid: ${STEMCELL_KEY_REMOVED}`);
  const parsed = rawSchema.safeParse(rest);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(config)'}: ${i.message}`);
    throw new InvalidInputError(`The director configuration is invalid; fix: ${problems.join('; ')}`);
  }
  const config: DirectorConfig = { ...parsed.data, databasePath: parsed.data.databasePath ?? join(parsed.data.dataDir, 'director.sqlite') };
  if (ca !== undefined) config.ca = ca;
  return config;
}
