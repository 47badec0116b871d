import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { z } from 'zod';
import { InvalidInputError } from '../../common/errors.js';

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
 *   stemcell: latest              # VMs boot the newest uploaded stemcell (default: host binaries)
 *   health: {...}                 # health:, resurrector: and responders: are handed to the
 *   resurrector: {...}            # director as they are (src/director/health/config.ts)
 *   responders: [...]
 */
export const DEFAULT_DIRECTOR_PORT = 25555;

const duration = z.union([
  z.number().int().nonnegative(),
  z.string().regex(/^\d+(ms|s|m|h)$/, 'a duration such as 500ms, 30s, 5m or 1h'),
]);

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
    /** The stemcell VMs boot: default (host binaries), latest, latest:OS or NAME/VERSION (docs/stemcells.md). */
    stemcell: z.string().min(1).optional(),
    health: z.record(z.string(), z.unknown()).optional(),
    resurrector: z.record(z.string(), z.unknown()).optional(),
    responders: z.array(z.unknown()).optional(),
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
  agentTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  agentWaitTimeoutMs?: number;
  registryPort: number;
  bridgeName: string;
  subnet: string;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  resurrectionDefault?: boolean;
  stemcell?: string;
  /** The raw `health`, `resurrector` and `responders` sections, for parseHealthSettings. */
  healthSections: {
    health?: Record<string, unknown>;
    resurrector?: Record<string, unknown>;
    responders?: unknown[];
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
  }
  const { host, port } = parseListen(flags.listen ?? file.listen ?? `127.0.0.1:${DEFAULT_DIRECTOR_PORT}`);
  return {
    name: file.name ?? 'bosun',
    dataDir: flags.dataDir,
    listenHost: host,
    port,
    agentTimeoutMs: ms(file.agent_timeout),
    heartbeatIntervalMs: ms(file.heartbeat_interval),
    agentWaitTimeoutMs: ms(file.agent_wait_timeout),
    registryPort: file.registry_port ?? 25556,
    bridgeName: file.bridge ?? 'bosun0',
    subnet: file.subnet ?? '10.244.0.0/16',
    logLevel: file.log_level ?? 'info',
    resurrectionDefault: file.resurrection,
    ...(file.stemcell === undefined ? {} : { stemcell: file.stemcell }),
    healthSections: { health: file.health, resurrector: file.resurrector, responders: file.responders },
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

function ms(value: number | string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'number') return value;
  const m = /^(\d+)(ms|s|m|h)$/.exec(value);
  const n = Number(m?.[1]);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m?.[2] as 'ms' | 's' | 'm' | 'h'];
  return n * unit;
}
