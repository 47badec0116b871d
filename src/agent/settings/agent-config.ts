/**
 * /var/vcap/bosh/agent.json, the stemcell's word on where the agent finds its settings, in BOSH's
 * layout: `{"Infrastructure": {"Settings": {"Sources": [{"Type": "File", "SettingsPath": …}, …]}}}`.
 * Several sources are read at once and the first that answers wins (an image built for several
 * clouds lists them all).
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { InvalidInputError } from '../../common/errors.js';
import { abortReason } from '../../common/waiting.js';
import { CdromSettingsSource, DEFAULT_CDROM } from './cdrom-source.js';
import { ConfigDriveSettingsSource, DEFAULT_CONFIG_DRIVE } from './config-drive-source.js';
import { FileSettingsSource } from './file-source.js';
import { DEFAULT_HTTP, HttpSettingsSource } from './http-source.js';
import { DEFAULT_SOURCE_TIMING, type SettingsSource, type SourceTiming } from './settings-source.js';

const source = z.discriminatedUnion('Type', [
  z.looseObject({ Type: z.literal('File'), SettingsPath: z.string().min(1) }),
  z.looseObject({
    Type: z.literal('ConfigDrive'),
    DiskPaths: z.array(z.string().min(1)).min(1).optional(),
    UserDataPath: z.string().min(1).optional(),
    MetaDataPath: z.string().optional(),
  }),
  z.looseObject({
    Type: z.literal('HTTP'),
    URI: z.string().url().optional(),
    UserDataPath: z.string().min(1).optional(),
    Headers: z.record(z.string(), z.string()).optional(),
  }),
  z.looseObject({ Type: z.literal('CDROM'), FileName: z.string().min(1).optional(), DevicePath: z.string().min(1).optional() }),
]);

const agentJsonSchema = z.looseObject({
  Infrastructure: z.looseObject({
    Settings: z.looseObject({ Sources: z.array(source).min(1) }),
  }),
});

export type SettingsSourceConfig = z.infer<typeof source>;

export function parseAgentConfig(text: string, where: string): SettingsSourceConfig[] {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new InvalidInputError(`${where} is not JSON: ${(err as Error).message}.`, { cause: err });
  }
  const parsed = agentJsonSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(top)'}: ${i.message}`).join('; ');
    throw new InvalidInputError(
      `${where} names no usable settings source (${problems}); expected {"Infrastructure": {"Settings": {"Sources": [{"Type": "File", "SettingsPath": "…"}]}}}.`,
    );
  }
  return parsed.data.Infrastructure.Settings.Sources;
}

export async function loadAgentConfig(file: string): Promise<SettingsSourceConfig[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new InvalidInputError(`Cannot read the agent configuration ${file}: ${(err as Error).message}.`, { cause: err });
  }
  return parseAgentConfig(text, file);
}

export function settingsSourceFor(config: SettingsSourceConfig, timing: SourceTiming = DEFAULT_SOURCE_TIMING): SettingsSource {
  switch (config.Type) {
    case 'File':
      return new FileSettingsSource({ settingsPath: config.SettingsPath }, timing);
    case 'ConfigDrive':
      return new ConfigDriveSettingsSource(
        {
          diskPaths: config.DiskPaths ?? DEFAULT_CONFIG_DRIVE.diskPaths,
          userDataPath: config.UserDataPath ?? DEFAULT_CONFIG_DRIVE.userDataPath,
          ...(config.MetaDataPath === undefined
            ? DEFAULT_CONFIG_DRIVE.metaDataPath === undefined
              ? {}
              : { metaDataPath: DEFAULT_CONFIG_DRIVE.metaDataPath }
            : { metaDataPath: config.MetaDataPath }),
        },
        timing,
      );
    case 'HTTP':
      return new HttpSettingsSource(
        {
          uri: config.URI ?? DEFAULT_HTTP.uri,
          userDataPath: config.UserDataPath ?? DEFAULT_HTTP.userDataPath,
          ...(config.Headers === undefined ? {} : { headers: config.Headers }),
        },
        timing,
      );
    case 'CDROM':
      return new CdromSettingsSource(
        { devicePath: config.DevicePath ?? DEFAULT_CDROM.devicePath, fileName: config.FileName ?? DEFAULT_CDROM.fileName },
        timing,
      );
  }
}

/** Reads every source at once; the first document wins and the others are cancelled. */
export async function readFromSources(sources: SettingsSource[], signal?: AbortSignal): Promise<{ text: string; source: SettingsSource }> {
  const controller = new AbortController();
  const onAbort = (): void => controller.abort(abortReason(signal));
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    return await Promise.any(sources.map(async (s) => ({ text: await s.read(controller.signal), source: s })));
  } catch (err) {
    if (err instanceof AggregateError) {
      const reasons = err.errors.map((e: unknown, i) => `${sources[i]?.type}: ${(e as Error).message}`).join('; ');
      throw new InvalidInputError(`No settings source gave the agent its settings (${reasons}).`, { cause: err });
    }
    throw err;
  } finally {
    controller.abort();
    signal?.removeEventListener('abort', onAbort);
  }
}
