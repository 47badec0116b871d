import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { InvalidInputError } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';
import { silentLogger } from '../../common/logger.js';
import { parseSubnet, type Subnet } from './ip.js';

/** Raw options as an entry point or a test passes them. */
export interface LocalCloudOptions {
  /** Where VM directories, disk files and metadata live (created if missing). */
  dataDir: string;
  /** Linux bridge the VMs' veths join; created if missing. Max 15 characters. */
  bridgeName?: string;
  /** CIDR of the VM network; the bridge (director, registry) gets its first address. */
  subnet?: string;
  /** argv of the agent inside each VM; `--settings <vm>/settings.json` is appended. */
  agentCommand?: string[];
  /** Seconds the VM's restart loop waits before restarting an exited agent. */
  agentRestartDelaySeconds?: number;
  /**
   * A directory shared by several local clouds (e.g. one per test file) where unpacked stemcell
   * images are kept by the sha1 of the image, so that creating the same stemcell again reuses the
   * unpacked root instead of unpacking it again. Absent: each stemcell is unpacked into this cloud's own dir.
   */
  stemcellCacheDir?: string;
  /**
   * True when other processes use the same dataDir at the same time (bosun-local-cpi: one
   * process per call): the critical sections then take a lock file (file-lock.ts) too.
   */
  sharedDataDir?: boolean;
  /**
   * The format of the agent settings the cloud writes: bosun's own (default) or BOSH's, as any
   * BOSH CPI writes them (stemcell VMs only: BOSH-format settings give a stemcell VM's paths).
   */
  agentSettings?: 'bosun' | 'bosh';
  /**
   * false: createVm answers the VM's network without its address and BOSH-format settings give a
   * dynamic network without `ip`, as a cloud with DHCP does (the director then learns the address
   * from the agent's heartbeat). Default true.
   */
  reportVmAddress?: boolean;
  /**
   * What a new persistent disk is: `file` (default: a sparse file attached as a loop device) or
   * `directory` (a host directory the VM sees at /warden-cpi-dev/<cid>, as warden/docker-style CPIs
   * give; resize_disk is not supported for it).
   */
  diskKind?: 'file' | 'directory';
  /**
   * Restart the VM's processes on attach_disk and detach_disk, with its ephemeral data and root
   * filesystem changes lost, the way the docker CPI recreates its VM container (for tests of
   * directors against such CPIs).
   */
  recreateVmOnAttach?: boolean;
  logger?: Logger;
}

export interface LocalCloudConfig {
  dataDir: string;
  bridgeName: string;
  subnet: Subnet;
  agentCommand: string[];
  agentRestartDelaySeconds: number;
  stemcellCacheDir: string | null;
  sharedDataDir: boolean;
  agentSettings: 'bosun' | 'bosh';
  reportVmAddress: boolean;
  diskKind: 'file' | 'directory';
  recreateVmOnAttach: boolean;
  logger: Logger;
}

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** The built agent entry point, whether this file runs from src/ (vitest) or dist/src/ (built). */
export function defaultAgentCommand(): string[] {
  const root = path.basename(path.resolve(repoRoot)) === 'dist' ? path.dirname(repoRoot) : repoRoot;
  return [process.execPath, path.join(root, 'dist/src/agent/main.js')];
}

const schema = z.object({
  dataDir: z
    .string()
    .min(1)
    .refine((p) => path.isAbsolute(p), 'must be an absolute path'),
  bridgeName: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,15}$/, 'must be 1-15 letters, digits, "-" or "_" (a Linux interface name)')
    .default('bosun0'),
  subnet: z.string().default('10.244.0.0/16'),
  agentCommand: z.array(z.string().min(1)).min(1).optional(),
  agentRestartDelaySeconds: z.number().positive().max(60).default(1),
  stemcellCacheDir: z
    .string()
    .refine((p) => path.isAbsolute(p), 'must be an absolute path')
    .optional(),
  sharedDataDir: z.boolean().default(false),
  agentSettings: z.enum(['bosun', 'bosh']).default('bosun'),
  reportVmAddress: z.boolean().default(true),
  diskKind: z.enum(['file', 'directory']).default('file'),
  recreateVmOnAttach: z.boolean().default(false),
});

export function compileLocalCloudConfig(options: LocalCloudOptions): LocalCloudConfig {
  const { logger, ...raw } = options;
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues
      .map((i) => `${i.path.join('.') || '(options)'}: ${i.message}`)
      .join('; ');
    throw new InvalidInputError(`The local cloud configuration is invalid: ${problems}.`);
  }
  const subnet = parseSubnet(parsed.data.subnet);
  return {
    dataDir: parsed.data.dataDir,
    bridgeName: parsed.data.bridgeName,
    subnet,
    agentCommand: parsed.data.agentCommand ?? defaultAgentCommand(),
    agentRestartDelaySeconds: parsed.data.agentRestartDelaySeconds,
    stemcellCacheDir: parsed.data.stemcellCacheDir ?? null,
    sharedDataDir: parsed.data.sharedDataDir,
    agentSettings: parsed.data.agentSettings,
    reportVmAddress: parsed.data.reportVmAddress,
    diskKind: parsed.data.diskKind,
    recreateVmOnAttach: parsed.data.recreateVmOnAttach,
    logger: logger ?? silentLogger,
  };
}
