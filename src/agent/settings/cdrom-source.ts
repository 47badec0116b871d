import { existsSync } from 'node:fs';
import { pollUntil } from '../../common/waiting.js';
import { readDriveFile } from './read-drive.js';
import { DEFAULT_SOURCE_TIMING, type SettingsSource, type SourceTiming } from './settings-source.js';

export interface CdromSourceOptions {
  /** The CD-ROM device (or an ISO file). */
  devicePath: string;
  /** The settings file on it (BOSH: FileName "env"). */
  fileName: string;
}

export const DEFAULT_CDROM: CdromSourceOptions = { devicePath: '/dev/sr0', fileName: 'env' };

/** vSphere/VirtualBox-style: the CPI attaches an ISO whose `env` file holds the settings. */
export class CdromSettingsSource implements SettingsSource {
  readonly type = 'CDROM';
  constructor(
    private readonly options: CdromSourceOptions = DEFAULT_CDROM,
    private readonly timing: SourceTiming = DEFAULT_SOURCE_TIMING,
  ) {}

  read(signal: AbortSignal): Promise<string> {
    const { devicePath, fileName } = this.options;
    return pollUntil(
      async () => {
        if (!existsSync(devicePath)) return undefined;
        const text = await readDriveFile(devicePath, fileName, signal);
        if (text === null) return undefined;
        JSON.parse(text);
        return text;
      },
      { ...this.timing, what: `the CD-ROM ${devicePath} with the settings file ${fileName}`, signal },
    );
  }
}
