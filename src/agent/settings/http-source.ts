import { pollUntil } from '../../common/waiting.js';
import { DEFAULT_SOURCE_TIMING, type SettingsSource, type SourceTiming } from './settings-source.js';

export interface HttpSourceOptions {
  /** The metadata service (BOSH: URI, e.g. http://169.254.169.254). */
  uri: string;
  /** BOSH: UserDataPath, e.g. /latest/user-data. */
  userDataPath: string;
  /** Extra request headers (GCE wants Metadata-Flavor: Google). */
  headers?: Record<string, string>;
}

export const DEFAULT_HTTP: HttpSourceOptions = { uri: 'http://169.254.169.254', userDataPath: '/latest/user-data' };

/**
 * AWS/GCE-style metadata service: the settings are the instance's user data. The service may not
 * answer at once after boot (or answer 404 until the user data is set): keep asking.
 */
export class HttpSettingsSource implements SettingsSource {
  readonly type = 'HTTP';
  constructor(
    private readonly options: HttpSourceOptions = DEFAULT_HTTP,
    private readonly timing: SourceTiming = DEFAULT_SOURCE_TIMING,
  ) {}

  read(signal: AbortSignal): Promise<string> {
    const url = new URL(this.options.userDataPath, this.options.uri).toString();
    return pollUntil(
      async (probeSignal) => {
        const res = await fetch(url, { headers: this.options.headers ?? {}, signal: probeSignal });
        const text = await res.text();
        if (res.status === 404) return undefined;
        if (!res.ok) throw new Error(`${url} answered ${res.status} ${res.statusText}`);
        JSON.parse(text);
        return text;
      },
      { ...this.timing, what: `the metadata service ${url} (HTTP settings source) serves the user data`, signal },
    );
  }
}
