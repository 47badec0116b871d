import { readFile } from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';
import { durationMsSchema } from '../../common/duration.js';
import { InvalidInputError } from '../../common/errors.js';
import { parseSize, SIZE_PATTERN, type ApiLimits } from '../api/limits.js';
import { STEMCELL_KEY_REMOVED } from '../config.js';

/**
 * Options of the `bosun director` process: command-line flags and an optional YAML file
 * (`--config FILE`), validated and defaulted here, with units in the names.
 *
 * Example file:
 *   listen: 127.0.0.1:25555      # the bridge address is always added
 *   agent_timeout: 30s
 *   heartbeat_interval: 2s
 *   registry_port: 25556
 *   bridge: bosun0
 *   subnet: 10.244.0.0/16
 *   log_level: info
 *   cloud:                        # default {type: local}; or a BOSH CPI (docs/clouds.md)
 *     type: external
 *     cpi: /var/vcap/jobs/docker_cpi/bin/cpi
 *     cpi_args: [-configPath, /etc/cpi.json]
 *     properties: {host: ...}     # merged into every call's context (BOSH's cpi-config)
 *     timeouts: {default: 5m, create_vm: 20m}
 *     resize_in_place: true       # false: disks grow by copy to a new disk
 *     trust_get_disks: true       # false: the director's records say which disk is attached where
 *   health: {...}                 # health:, resurrector: and responders: are handed to the
 *   resurrector: {...}            # director as they are (src/director/health/config.ts)
 *   responders: [...]
 *   manifest_policy:              # what manifests may use; each defaults to true
 *     allow_privileged: false
 *     allow_devices: false
 *     allow_cap_adds: false
 *     allowed_host_paths: [/etc/ssl]  # VM directories volumes may mount, read-only (docs/manifest.md)
 *   api:                          # limits of the API (src/director/api/limits.ts)
 *     body_limit: 1m              # JSON bodies of routes without a manifest
 *     manifest_body_limit: 16m    # deploy, diff
 *     upload_max_size: 16g        # an image tarball
 *     request_timeout: 5m         # a request other than an upload must arrive within this
 *     upload_idle_timeout: 5m     # an upload is cut when no byte arrives for this long
 *     logs_max_size: 4m           # `bosun logs` answers longer than this are cut (and say so)
 *   retention:                    # history kept (src/store/retention.ts); pruned at start and hourly
 *     max_age: 720h               # finished tasks (with events), alerts, audit events older than this go
 *     max_tasks: 2000             # the newest finished tasks kept
 *     max_alerts: 10000
 *     max_audit_events: 10000
 *     prune_interval: 1h
 */
export const DEFAULT_DIRECTOR_PORT = 25555;

/** The one duration syntax (src/common/duration.ts), as under health: and in the manifest. */
const duration = durationMsSchema;

const size = z.union([
  z.number().int().positive(),
  z.string().regex(SIZE_PATTERN, 'a size such as 512k, 16m or 20g'),
]);

const apiSection = z
  .object({
    body_limit: size.optional(),
    manifest_body_limit: size.optional(),
    upload_max_size: size.optional(),
    request_timeout: duration.optional(),
    upload_idle_timeout: duration.optional(),
    logs_max_size: size.optional(),
  })
  .strict();

const retentionSection = z
  .object({
    max_age: duration.optional(),
    max_tasks: z.number().int().positive().optional(),
    max_alerts: z.number().int().positive().optional(),
    max_audit_events: z.number().int().positive().optional(),
    prune_interval: duration.optional(),
  })
  .strict();

/** `cloud:`: the local cloud (default) or an external CPI; checked further in cloudConfigOf. */
const cloudSection = z
  .object({
    type: z.enum(['local', 'external'], { error: 'must be "local" or "external"' }),
    name: z.string().min(1).optional(),
    cpi: z.string().min(1).optional(),
    cpi_args: z.array(z.string()).optional(),
    properties: z.record(z.string(), z.unknown()).optional(),
    timeouts: z.record(z.string(), duration).optional(),
    resize_in_place: z.boolean().optional(),
    trust_get_disks: z.boolean().optional(),
  })
  .strict();

export type DaemonCloudConfig =
  | { type: 'local' }
  | {
      type: 'external';
      /** What `status` calls the cloud (config `cloud.name`; default from the CPI's path). */
      name?: string;
      cpi: string;
      cpiArgs: string[];
      properties: Record<string, unknown>;
      timeoutsMs: Record<string, number>;
      resizeInPlace: boolean;
      trustGetDisks: boolean;
    };

const fileSchema = z
  .object({
    name: z.string().min(1).optional(),
    listen: z.string().optional(),
    agent_timeout: duration.optional(),
    heartbeat_interval: duration.optional(),
    agent_wait_timeout: duration.optional(),
    registry_port: z.number().int().min(1).max(65535).optional(),
    bridge: z.string().optional(),
    subnet: z.string().optional(),
    log_level: z.enum(['debug', 'info', 'warn', 'error']).optional(),
    resurrection: z.boolean().optional(),
    /** Removed (the manifest names the stemcell): kept in the schema only to refuse it with a sentence. */
    stemcell: z.unknown().optional(),
    health: z.record(z.string(), z.unknown()).optional(),
    resurrector: z.record(z.string(), z.unknown()).optional(),
    responders: z.array(z.unknown()).optional(),
    manifest_policy: z
      .object({
        allow_privileged: z.boolean().optional(),
        allow_devices: z.boolean().optional(),
        allow_cap_adds: z.boolean().optional(),
        /** VM directories that manifests may mount into containers, read-only (default: none). */
        allowed_host_paths: z.array(z.string().startsWith('/', 'an absolute directory such as /etc/ssl')).optional(),
      })
      .strict()
      .optional(),
    api: apiSection.optional(),
    retention: retentionSection.optional(),
    cloud: cloudSection.optional(),
  })
  .strict();

export interface DaemonFlags {
  dataDir: string;
  listen?: string;
  configFile?: string;
}

export interface DaemonConfig {
  name: string;
  dataDir: string;
  /** Where the API listens besides the bridge address (default 127.0.0.1). */
  listenHost: string;
  port: number;
  /** How long one director → agent call may take (file key `agent_timeout`); not the heartbeat timeout. */
  agentCallTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  agentWaitTimeoutMs?: number;
  registryPort: number;
  bridgeName: string;
  subnet: string;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  resurrectionDefault?: boolean;
  /** manifest_policy: false forbids privileged / devices / cap_adds in manifests. */
  manifestPolicy: { allowPrivileged: boolean; allowDevices: boolean; allowCapAdds: boolean };
  /** manifest_policy.allowed_host_paths: VM directories that `volumes` may mount, read-only. */
  allowedHostPaths: string[];
  /** The `cloud:` section: which cloud the director drives. */
  cloud: DaemonCloudConfig;
  /** The raw `health`, `resurrector` and `responders` sections, for parseHealthSettings. */
  healthSections: {
    health?: Record<string, unknown>;
    resurrector?: Record<string, unknown>;
    responders?: unknown[];
  };
  /** The `api:` section: body, upload and request-time limits (unset ones keep their defaults). */
  apiLimits: Partial<ApiLimits>;
  /** The `retention:` section, as director config fields (unset ones keep their defaults). */
  retention: {
    retentionMaxAgeMs?: number;
    retentionMaxTasks?: number;
    retentionMaxAlerts?: number;
    retentionMaxAuditEvents?: number;
    retentionPruneIntervalMs?: number;
  };
}

export async function loadDaemonConfig(flags: DaemonFlags): Promise<DaemonConfig> {
  let file: z.infer<typeof fileSchema> = {};
  if (flags.configFile) {
    let text: string;
    try {
      text = await readFile(flags.configFile, 'utf8');
    } catch (err) {
      throw new InvalidInputError(
        `Cannot read the director config ${flags.configFile}: ${(err as Error).message}.`,
        { cause: err },
      );
    }
    const parsed = fileSchema.safeParse(parse(text) ?? {});
    if (!parsed.success) {
      const problems = parsed.error.issues
        .map((i) => `${i.path.join('.') || '(file)'}: ${i.message}`)
        .join('; ');
      throw new InvalidInputError(`The director config ${flags.configFile} is invalid: ${problems}.`);
    }
    file = parsed.data;
    if (file.stemcell !== undefined) throw new InvalidInputError(`The director config ${flags.configFile} is invalid: ${STEMCELL_KEY_REMOVED}`);
  }
  const { host, port } = parseListen(flags.listen ?? file.listen ?? `127.0.0.1:${DEFAULT_DIRECTOR_PORT}`);
  return {
    name: file.name ?? 'bosun',
    dataDir: flags.dataDir,
    listenHost: host,
    port,
    agentCallTimeoutMs: file.agent_timeout,
    heartbeatIntervalMs: file.heartbeat_interval,
    agentWaitTimeoutMs: file.agent_wait_timeout,
    registryPort: file.registry_port ?? 25556,
    bridgeName: file.bridge ?? 'bosun0',
    subnet: file.subnet ?? '10.244.0.0/16',
    logLevel: file.log_level ?? 'info',
    resurrectionDefault: file.resurrection,
    manifestPolicy: {
      allowPrivileged: file.manifest_policy?.allow_privileged ?? true,
      allowDevices: file.manifest_policy?.allow_devices ?? true,
      allowCapAdds: file.manifest_policy?.allow_cap_adds ?? true,
    },
    allowedHostPaths: file.manifest_policy?.allowed_host_paths ?? [],
    cloud: cloudConfigOf(file.cloud, flags.configFile ?? 'the director config'),
    healthSections: { health: file.health, resurrector: file.resurrector, responders: file.responders },
    apiLimits: {
      jsonBodyBytes: sizeOf(file.api?.body_limit),
      manifestBodyBytes: sizeOf(file.api?.manifest_body_limit),
      uploadMaxBytes: sizeOf(file.api?.upload_max_size),
      requestTimeoutMs: file.api?.request_timeout,
      uploadIdleTimeoutMs: file.api?.upload_idle_timeout,
      logsMaxBytes: sizeOf(file.api?.logs_max_size),
    },
    retention: definedOnly({
      retentionMaxAgeMs: file.retention?.max_age,
      retentionMaxTasks: file.retention?.max_tasks,
      retentionMaxAlerts: file.retention?.max_alerts,
      retentionMaxAuditEvents: file.retention?.max_audit_events,
      retentionPruneIntervalMs: file.retention?.prune_interval,
    }),
  };
}

function cloudConfigOf(section: z.infer<typeof cloudSection> | undefined, file: string): DaemonCloudConfig {
  if (section === undefined || section.type === 'local') {
    const extra = section === undefined ? [] : (['name', 'cpi', 'cpi_args', 'properties', 'timeouts', 'resize_in_place', 'trust_get_disks'] as const).filter((k) => section[k] !== undefined);
    if (extra.length > 0) {
      throw new InvalidInputError(`The director config ${file} is invalid: cloud.${extra.join(', cloud.')} only apply to cloud.type external; remove them or set type: external.`);
    }
    return { type: 'local' };
  }
  if (section.cpi === undefined || !isAbsolute(section.cpi)) {
    throw new InvalidInputError(
      `The director config ${file} is invalid: cloud.cpi must be the absolute path of the CPI executable when cloud.type is external (e.g. cpi: /usr/local/bin/bosun-local-cpi).`,
    );
  }
  return {
    type: 'external',
    ...(section.name === undefined ? {} : { name: section.name }),
    cpi: section.cpi,
    cpiArgs: section.cpi_args ?? [],
    properties: section.properties ?? {},
    timeoutsMs: section.timeouts ?? {},
    resizeInPlace: section.resize_in_place ?? true,
    trustGetDisks: section.trust_get_disks ?? true,
  };
}

export function parseListen(value: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:]+)\]|([^:]+)):(\d{1,5})$/.exec(value) ?? /^()()(\d{1,5})$/.exec(value);
  const port = Number(m?.[3]);
  if (!m || !Number.isInteger(port) || port > 65535) {
    throw new InvalidInputError(`--listen takes HOST:PORT (e.g. 127.0.0.1:25555), got "${value}".`);
  }
  return { host: m[1] || m[2] || '127.0.0.1', port };
}

function definedOnly<T extends Record<string, unknown>>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function sizeOf(value: number | string | undefined): number | undefined {
  return value === undefined ? undefined : parseSize(value);
}
