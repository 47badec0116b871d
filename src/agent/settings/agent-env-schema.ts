import { z } from 'zod';

/**
 * What the director hands the agent of a new VM (the cloud's AgentEnv, src/cloud/cloud.ts): the
 * part of bosun's own settings document the director chose, and all of `env.bosun` in BOSH-format
 * settings. One schema for both formats.
 */
export const agentEnvSchema = z.object({
  directorUrl: z.string().min(1),
  caPem: z.string().min(1),
  certPem: z.string().min(1),
  keyPem: z.string().min(1),
  clientCertPem: z.string().min(1).optional(),
  directorClientName: z.string().min(1).optional(),
  heartbeatIntervalMs: z.number().int().positive(),
  registryHost: z.string().optional(),
  extra: z.record(z.string(), z.unknown()).optional(),
});
