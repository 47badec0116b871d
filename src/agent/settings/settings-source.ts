/**
 * Where an agent reads its settings, as BOSH's agent has it (bosh-agent's settings sources): the
 * stemcell's /var/vcap/bosh/agent.json names one or more sources, tried in order. Each source
 * returns the raw settings document; settings.ts validates it.
 */
export interface SettingsSource {
  /** "File", "ConfigDrive", "HTTP", "CDROM": for messages. */
  readonly type: string;
  /** The settings document (JSON text). Waits until the source has it, or the signal aborts. */
  read(signal: AbortSignal): Promise<string>;
}

/** How long a source keeps looking (a CPI may write the settings after the VM started) and how often. */
export interface SourceTiming {
  timeoutMs: number;
  intervalMs: number;
}

export const DEFAULT_SOURCE_TIMING: SourceTiming = { timeoutMs: 5 * 60_000, intervalMs: 100 };
