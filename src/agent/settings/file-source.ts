import { readFile } from 'node:fs/promises';
import { pollUntil } from '../../common/waiting.js';
import { DEFAULT_SOURCE_TIMING, type SettingsSource, type SourceTiming } from './settings-source.js';

export interface FileSourceOptions {
  /** The settings document (BOSH: SettingsPath, e.g. /var/vcap/bosh/warden-cpi-agent-env.json). */
  settingsPath: string;
}

/**
 * Settings in a file that warden- and docker-style CPIs (and the local cloud) write, possibly after
 * the VM has started: wait until it exists and parses, since a half-written file may be seen first.
 */
export class FileSettingsSource implements SettingsSource {
  readonly type = 'File';
  constructor(
    private readonly options: FileSourceOptions,
    private readonly timing: SourceTiming = DEFAULT_SOURCE_TIMING,
  ) {}

  read(signal: AbortSignal): Promise<string> {
    const file = this.options.settingsPath;
    return pollUntil(
      async () => {
        let text: string;
        try {
          text = await readFile(file, 'utf8');
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
          throw err;
        }
        JSON.parse(text); // not yet complete: try again
        return text;
      },
      { ...this.timing, what: `the settings file ${file} (File settings source) appears`, signal },
    );
  }
}
