/**
 * Stemcells on the director: upload (idempotent by name and version, the image checked against
 * the sha1 in stemcell.MF before the cloud sees it), list with the VMs each one boots, delete
 * (refused while a VM uses it), and the lookup a deploy uses to turn `{os, version}` into a cid.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Cloud } from '../../cloud/cloud.js';
import type { StemcellInfo, TaskInfo } from '../../common/contracts/api.js';
import { ConflictError, NotFoundError } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';
import { STEMCELL_NAME } from '../../stemcell/stemcell-contents.js';
import { compareStemcellVersions } from '../../stemcell/stemcell-manifest.js';
import { openStemcellTarball } from '../../stemcell/stemcell-tarball.js';
import type { StemcellRecord, Store } from '../../store/store.js';
import type { TaskRunner } from '../tasks/task-runner.js';

export const STEMCELLS_LOCK = 'stemcells';

/** A stemcell as a manifest names it: by OS or by name, "latest" or an exact version. */
export interface StemcellRequest {
  os: string | null;
  name: string | null;
  version: string;
}

/**
 * The uploaded stemcell a manifest's choice names (the highest version for "latest"), or a
 * NotFoundError that names what is missing and the commands that build and upload it.
 */
export async function resolveStemcell(store: Store, request: StemcellRequest): Promise<StemcellRecord> {
  const all = await store.stemcells.list();
  const candidates = all.filter((s) => (request.os !== null ? s.operatingSystem === request.os : s.name === request.name));
  const found =
    request.version === 'latest' ? candidates.sort((a, b) => compareStemcellVersions(b.version, a.version))[0] : candidates.find((s) => s.version === request.version);
  if (found) return found;
  const what = request.os !== null ? `of OS ${request.os}${request.version === 'latest' ? '' : ` with version ${request.version}`}` : `${request.name ?? '?'}/${request.version}`;
  throw missingStemcell(what, all, request.version);
}

/** The uploaded stemcell NAME/VERSION (the one an instance's VM booted), or the NotFoundError saying how to upload it. */
export async function uploadedStemcell(store: Store, name: string, version: string): Promise<StemcellRecord> {
  const found = await store.stemcells.get(name, version);
  if (found) return found;
  throw missingStemcell(`${name}/${version}`, await store.stemcells.list(), version);
}

function missingStemcell(what: string, uploaded: StemcellRecord[], version: string): NotFoundError {
  const file = `stemcells/${STEMCELL_NAME}-${version === 'latest' ? '<version>' : version}.tgz`;
  const have = uploaded.map((s) => `${s.name}/${s.version}`).join(', ');
  return new NotFoundError(
    `No stemcell ${what} is uploaded (${have === '' ? 'the director has none' : `uploaded: ${have}`}); ` +
      `upload it with \`bosun upload-stemcell ${file}\` (build it with \`bash scripts/build-stemcell.sh\`), ` +
      "or name an uploaded one in the manifest's `stemcells:` (see `bosun stemcells`).",
  );
}

export class StemcellService {
  constructor(
    private readonly store: Store,
    private readonly cloud: Cloud,
    private readonly tasks: TaskRunner,
    private readonly workDir: string,
    private readonly logger: Logger,
  ) {}

  async list(): Promise<StemcellInfo[]> {
    const [stemcells, users] = await Promise.all([this.store.stemcells.list(), this.store.stemcells.vmsByStemcell()]);
    return stemcells
      .sort((a, b) => a.name.localeCompare(b.name) || compareStemcellVersions(b.version, a.version))
      .map((s) => ({ ...s, vms: users.get(s.cid) ?? [] }));
  }

  /** Takes the uploaded tarball at `tarPath` (the task removes it when done). */
  async upload(tarPath: string, user: string): Promise<TaskInfo> {
    return this.tasks.enqueue({ description: 'upload stemcell', deployment: null, user, locks: [STEMCELLS_LOCK] }, async (ctx) => {
      await mkdir(this.workDir, { recursive: true, mode: 0o700 });
      const imagePath = join(this.workDir, `${randomUUID()}.image`);
      try {
        const opened = await ctx.step('Verifying stemcell', 'checking stemcell.MF and the sha1 of the image', 1, 2, () =>
          openStemcellTarball(tarPath, imagePath),
        );
        const m = opened.manifest;
        const existing = await this.store.stemcells.get(m.name, m.version);
        if (existing) {
          await ctx.event({ stage: 'Uploading stemcell', step: `${m.name}/${m.version} is already uploaded (cid ${existing.cid}): nothing to do`, index: 2, total: 2, state: 'finished' });
          return JSON.stringify({ ...existing, alreadyUploaded: true });
        }
        const cid = await ctx.step('Uploading stemcell', `${m.name}/${m.version} (${(opened.imageSizeBytes / 1048576).toFixed(0)} MiB)`, 2, 2, () =>
          this.cloud.createStemcell(imagePath, m.cloudProperties),
        );
        const record = await this.store.stemcells.create({
          name: m.name,
          version: m.version,
          operatingSystem: m.operatingSystem,
          apiVersion: m.apiVersion,
          formats: m.stemcellFormats,
          sha1: m.sha1,
          cid,
        });
        this.logger.info('stemcell uploaded', { name: m.name, version: m.version, cid });
        return JSON.stringify(record);
      } finally {
        await rm(imagePath, { force: true });
        await rm(tarPath, { force: true });
      }
    });
  }

  /** Refused (ConflictError listing them) while a VM boots the stemcell; otherwise a task deletes it. */
  async delete(name: string, version: string, user: string): Promise<TaskInfo> {
    const stemcell = await this.require(name, version);
    await this.assertUnused(stemcell);
    return this.tasks.enqueue({ description: `delete stemcell ${name}/${version}`, deployment: null, user, locks: [STEMCELLS_LOCK] }, async (ctx) => {
      await this.assertUnused(stemcell);
      await ctx.step('Deleting stemcell', `${name}/${version} (cid ${stemcell.cid})`, 1, 1, () => this.cloud.deleteStemcell(stemcell.cid));
      await this.store.stemcells.delete(name, version);
      return JSON.stringify({ deleted: `${name}/${version}` });
    });
  }

  /** The uploaded stemcell for `os` and `version` ("latest" or absent: the highest version), or a NotFoundError saying how to upload it. */
  resolve(os: string, version: string | undefined): Promise<StemcellRecord> {
    return resolveStemcell(this.store, { os, name: null, version: version ?? 'latest' });
  }

  private async require(name: string, version: string): Promise<StemcellRecord> {
    const s = await this.store.stemcells.get(name, version);
    if (!s) {
      const all = (await this.store.stemcells.list()).map((x) => `${x.name}/${x.version}`);
      throw new NotFoundError(`There is no stemcell ${name}/${version}${all.length ? `; uploaded: ${all.join(', ')}` : ''}. See \`bosun stemcells\`.`);
    }
    return s;
  }

  private async assertUnused(stemcell: StemcellRecord): Promise<void> {
    const vms = (await this.store.stemcells.vmsByStemcell()).get(stemcell.cid) ?? [];
    if (vms.length > 0) {
      throw new ConflictError(
        `Stemcell ${stemcell.name}/${stemcell.version} is in use by ${vms.length} VM${vms.length === 1 ? '' : 's'} (${vms.join(', ')}); ` +
          'deploy those deployments with another stemcell or delete them first.',
        { details: { vms } },
      );
    }
  }
}
