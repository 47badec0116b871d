/**
 * The director's cloud config: validated on upload, kept in every version (the newest is
 * current), diffed against the current one before an update. Uploading the same text again
 * makes no new version. Deploys read the current one (resolve-cloud-config.ts).
 */
import type { CloudConfigDiffResponse, CloudConfigInfo } from '../../common/contracts/api.js';
import { formatManifestProblem } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';
import { diffCloudConfigs } from '../../manifest/cloud-config-diff.js';
import { loadCloudConfig, type CloudConfig } from '../../manifest/cloud-config.js';
import type { CloudConfigRecord, Store } from '../../store/store.js';

const info = (r: CloudConfigRecord | undefined): CloudConfigInfo =>
  r === undefined ? { text: null, version: 0, createdAt: null, user: null } : { text: r.text, version: r.id, createdAt: r.createdAt, user: r.user };

/** The current cloud config, parsed (null: none uploaded). A stored text is valid: it was checked on upload. */
export async function currentCloudConfig(store: Store): Promise<CloudConfig | null> {
  const r = await store.cloudConfigs.latest();
  return r === undefined ? null : loadCloudConfig(r.text).config;
}

export class CloudConfigService {
  constructor(
    private readonly store: Store,
    private readonly logger: Logger,
  ) {}

  async get(): Promise<CloudConfigInfo> {
    return info(await this.store.cloudConfigs.latest());
  }

  /** Validates `text` (InvalidManifestError with every problem) and says what it changes. */
  async diff(text: string): Promise<CloudConfigDiffResponse> {
    const loaded = loadCloudConfig(text);
    const before = await currentCloudConfig(this.store);
    const diff = diffCloudConfigs(before, loaded.config);
    return { ...diff, warnings: loaded.warnings.map(formatManifestProblem) };
  }

  /** Validates and stores `text` as the new current version (none when it equals the current text). */
  async update(text: string, user: string): Promise<CloudConfigInfo> {
    loadCloudConfig(text);
    const current = await this.store.cloudConfigs.latest();
    if (current?.text === text) return info(current);
    const added = await this.store.cloudConfigs.add(text, user);
    await this.store.auditEvents.record({ user, action: 'update', objectType: 'cloud-config', objectName: String(added.id), context: {} });
    this.logger.info('cloud config updated', { version: added.id, user });
    return info(added);
  }
}
