import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import type { AgentSettings } from '../common/contracts/agent-settings.js';
import { InvalidInputError } from '../common/errors.js';
import { agentEnvSchema } from './settings/agent-env-schema.js';
import { boshToAgentSettings, isBoshSettings, type BoshMappingOptions } from './settings/bosh-settings.js';

const diskHint = z.looseObject({ path: z.string() });

const schema = agentEnvSchema.extend({
  agentId: z.string().min(1),
  vmCid: z.string().min(1),
  // bosun's own format accepts an empty director URL, as it always did.
  directorUrl: z.string(),
  listen: z.object({ host: z.string(), port: z.number().int() }),
  network: z.object({ ip: z.string(), netmask: z.string(), gateway: z.string().optional() }),
  paths: z.object({ root: z.string(), store: z.string(), migration: z.string(), ephemeral: z.string(), run: z.string() }),
  disks: z.record(z.string(), diskHint).default({}),
  cgroupParent: z.string(),
});

/** Reads and validates `<vm>/settings.json`, the one boundary where raw settings become typed. */
export async function loadSettings(file: string, options: BoshMappingOptions = {}): Promise<AgentSettings> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new InvalidInputError(`Cannot read the agent settings file ${file}; check that the cloud wrote it as JSON.`, { cause: err });
  }
  return parseSettings(text, `The agent settings file ${file}`, options);
}

/**
 * Validates a settings document from any source; `where` names it in errors ("The agent settings
 * file …"). Both formats are read: bosun's own (`agentId`) and BOSH's (`agent_id`, as any BOSH CPI
 * writes it, bosun's part under `env.bosun`).
 */
export async function parseSettings(text: string, where: string, options: BoshMappingOptions = {}): Promise<AgentSettings> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new InvalidInputError(`${where} is not JSON; check that the cloud wrote it as JSON.`, { cause: err });
  }
  if (isBoshSettings(raw)) return boshToAgentSettings(raw, where, options);
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    throw new InvalidInputError(`${where} is invalid: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  return parsed.data as AgentSettings;
}
