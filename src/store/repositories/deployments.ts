import type { Kysely } from 'kysely';
import type { ChangeFeed } from '../change-feed.js';
import type { DatabaseSchema, DeploymentsTable } from '../schema.js';

export interface DeploymentRecord {
  name: string;
  manifest: string | null;
  pendingManifest: string | null;
  /** null: follow the global setting. */
  resurrection: boolean | null;
  createdAt: string;
  updatedAt: string;
  lastDeployedAt: string | null;
}

function toRecord(r: DeploymentsTable): DeploymentRecord {
  return {
    name: r.name,
    manifest: r.manifest,
    pendingManifest: r.pending_manifest,
    resurrection: r.resurrection === null ? null : r.resurrection !== 0,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    lastDeployedAt: r.last_deployed_at,
  };
}

export class DeploymentsRepository {
  constructor(
    private readonly db: Kysely<DatabaseSchema>,
    private readonly changes?: ChangeFeed,
  ) {}

  private changed(deployment: string): void {
    this.changes?.emit({ table: 'deployments', deployment });
  }

  async get(name: string): Promise<DeploymentRecord | undefined> {
    const r = await this.db.selectFrom('deployments').selectAll().where('name', '=', name).executeTakeFirst();
    return r && toRecord(r);
  }

  async list(): Promise<DeploymentRecord[]> {
    const rows = await this.db.selectFrom('deployments').selectAll().orderBy('name').execute();
    return rows.map(toRecord);
  }

  /** Creates the deployment if needed and records the manifest of the deploy that is starting. */
  async setPending(name: string, manifest: string): Promise<void> {
    const now = new Date().toISOString();
    const updated = await this.db
      .updateTable('deployments')
      .set({ pending_manifest: manifest, updated_at: now })
      .where('name', '=', name)
      .executeTakeFirst();
    if (Number(updated.numUpdatedRows) === 0) {
      await this.db
        .insertInto('deployments')
        .values({ name, manifest: null, pending_manifest: manifest, resurrection: null, created_at: now, updated_at: now, last_deployed_at: null })
        .execute();
    }
    this.changed(name);
  }

  /** Only a successful deploy makes its manifest the deployment's manifest. */
  async markDeployed(name: string, manifest: string): Promise<void> {
    const now = new Date().toISOString();
    await this.db
      .updateTable('deployments')
      .set({ manifest, pending_manifest: null, updated_at: now, last_deployed_at: now })
      .where('name', '=', name)
      .execute();
    this.changed(name);
  }

  async setResurrection(name: string, enabled: boolean | null): Promise<void> {
    await this.db
      .updateTable('deployments')
      .set({ resurrection: enabled === null ? null : enabled ? 1 : 0, updated_at: new Date().toISOString() })
      .where('name', '=', name)
      .execute();
  }

  async delete(name: string): Promise<void> {
    await this.db.deleteFrom('deployments').where('name', '=', name).execute();
    this.changed(name);
  }
}
