import { existsSync } from 'node:fs';
import { pollUntil } from '../../common/waiting.js';
import { readDriveFile } from './read-drive.js';
import { DEFAULT_SOURCE_TIMING, type SettingsSource, type SourceTiming } from './settings-source.js';

export interface ConfigDriveSourceOptions {
  /** Candidate drives, tried in order (BOSH: /dev/disk/by-label/CONFIG-2, /dev/disk/by-label/config-2). */
  diskPaths: string[];
  /** Path of the settings on the drive (BOSH: /openstack/latest/user_data). */
  userDataPath: string;
  /** Path of the instance metadata (BOSH: /openstack/latest/meta_data.json); read when present. */
  metaDataPath?: string;
}

export const DEFAULT_CONFIG_DRIVE: ConfigDriveSourceOptions = {
  diskPaths: ['/dev/disk/by-label/CONFIG-2', '/dev/disk/by-label/config-2'],
  userDataPath: '/openstack/latest/user_data',
  metaDataPath: '/openstack/latest/meta_data.json',
};

/**
 * OpenStack-style config drive: a labelled vfat or ISO 9660 drive carrying the settings as user
 * data. When meta_data.json names the instance (`uuid`) and the settings have no vmCid, the uuid
 * fills it, as BOSH's agent takes the instance id from the metadata.
 */
export class ConfigDriveSettingsSource implements SettingsSource {
  readonly type = 'ConfigDrive';
  constructor(
    private readonly options: ConfigDriveSourceOptions = DEFAULT_CONFIG_DRIVE,
    private readonly timing: SourceTiming = DEFAULT_SOURCE_TIMING,
  ) {}

  read(signal: AbortSignal): Promise<string> {
    return pollUntil(
      async () => {
        for (const device of this.options.diskPaths) {
          if (!existsSync(device)) continue;
          const userData = await readDriveFile(device, this.options.userDataPath, signal);
          if (userData === null) continue;
          const settings = JSON.parse(userData) as Record<string, unknown>;
          if (this.options.metaDataPath && settings['vmCid'] === undefined) {
            const meta = await readDriveFile(device, this.options.metaDataPath, signal);
            const uuid = meta === null ? undefined : (JSON.parse(meta) as { uuid?: unknown }).uuid;
            if (typeof uuid === 'string') settings['vmCid'] = uuid;
          }
          return JSON.stringify(settings);
        }
        return undefined;
      },
      {
        ...this.timing,
        what: `a config drive (${this.options.diskPaths.join(', ')}) with ${this.options.userDataPath}`,
        signal,
      },
    );
  }
}
