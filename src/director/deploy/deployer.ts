/**
 * The deploy: validate, resolve each group's stemcell against the uploaded ones and diff before
 * any task exists, then as a task holding the deployment's lock: bind instances (stable ids),
 * delete unneeded instances (disks orphaned), and update each
 * group (serially, or in parallel for consecutive serial:false groups): canaries first, then
 * batches of max_in_flight. Unchanged instances are not touched. A failed batch stops the deploy.
 * The manifest becomes the deployment's manifest only when everything succeeded.
 */
import { randomUUID } from 'node:crypto';
import { InvalidInputError, NotFoundError } from '../../common/errors.js';
import type { InstanceRecord, StemcellRecord } from '../../store/store.js';
import type { DeployRequest, DiffChange, DiffResponse, TaskInfo } from '../../common/contracts/api.js';
import { resolveStemcell } from '../stemcells/stemcell-service.js';
import { currentCloudConfig } from '../cloud-config/cloud-config-service.js';
import { canonicalJson } from '../../manifest/canonical-json.js';
import type { TaskContext } from '../tasks/task-context.js';
import type { CloudConfig } from '../../manifest/cloud-config.js';
import { addressChange, planAddresses, reserveAddresses, type AddressPlan } from '../networks/address-plan.js';
import type { TaskRunner } from '../tasks/task-runner.js';
import { groupWaves, policyFor, resolveMaxInFlight, updateBatches } from './batches.js';
import { instanceName } from './instance-deps.js';
import type { InstanceDeps, InstanceTarget } from './instance-deps.js';
import { isUpToDate, removeInstance, updateInstance } from './instance-updater.js';
import { stemcellLabel } from './vm-steps.js';
import type { DeploymentPlan, LoadedDeploymentManifest, ManifestPort, PlannedGroup, UpdatePolicy } from './plan.js';

const slot = (group: string, index: number): string => `${group}/${index}`;

/** Each group's stemcell, resolved against the uploaded ones. */
type GroupStemcells = Map<string, StemcellRecord>;

const sameStemcell = (a: { name: string; version: string } | null, b: StemcellRecord): boolean => a !== null && a.name === b.name && a.version === b.version;

export class Deployer {
  constructor(
    private readonly deps: InstanceDeps,
    private readonly manifests: ManifestPort,
    private readonly tasks: TaskRunner,
  ) {}

  async diff(request: DeployRequest): Promise<DiffResponse> {
    const loaded = this.manifests.load(request.manifest);
    return this.diffLoaded(loaded, request.showSecrets ?? false);
  }

  async deploy(request: DeployRequest, user: string): Promise<TaskInfo> {
    if (request.dryRun === true) {
      throw new InvalidInputError('A dry run creates no task: call diff (POST /api/v1/deployments/diff) to see what a deploy would change.');
    }
    const loaded = this.manifests.load(request.manifest);
    const diff = await this.diffLoaded(loaded, false);
    const recreate = request.recreate === true;
    const existed = (await this.deps.store.deployments.get(loaded.name))?.manifest != null;
    return this.tasks.enqueue(
      { description: `${existed ? 'deploy' : 'create deployment'}${recreate ? ' (recreate)' : ''}`, deployment: loaded.name, user },
      async (ctx) => {
        await ctx.event({ stage: 'Preparing deployment', step: 'Changes', index: 1, total: 1, state: 'finished', data: { changes: diff.changes.length } });
        return this.run(ctx, loaded, request.manifest, recreate);
      },
    );
  }

  /** Loads the last successfully deployed manifest of `name`, or null. */
  async deployedManifest(name: string): Promise<LoadedDeploymentManifest | null> {
    const d = await this.deps.store.deployments.get(name);
    if (d?.manifest == null) return null;
    return this.manifests.load(d.manifest);
  }

  /** Plans `loaded` with the instance ids already recorded for its slots (new slots get new ids). */
  async plan(loaded: LoadedDeploymentManifest): Promise<{ plan: DeploymentPlan; bySlot: Map<string, InstanceRecord>; cloudConfig: CloudConfig | null }> {
    const existing = await this.deps.store.instances.listByDeployment(loaded.name);
    const bySlot = new Map(existing.map((r) => [slot(r.group, r.index), r]));
    const cloudConfig = await currentCloudConfig(this.deps.store);
    const plan = this.manifests.plan(loaded, (group, index) => bySlot.get(slot(group, index))?.id ?? randomUUID(), cloudConfig);
    return { plan, bySlot, cloudConfig };
  }

  /**
   * Resolves every group's stemcell against the uploaded ones (groups without instances need
   * none). A missing stemcell fails here, before anything changes, with the commands that fix it.
   */
  async resolveStemcells(plan: DeploymentPlan): Promise<GroupStemcells> {
    const resolved: GroupStemcells = new Map();
    const missing = new Map<string, string[]>();
    for (const g of plan.groups) {
      if (g.instances.length === 0) continue;
      try {
        resolved.set(g.name, await resolveStemcell(this.deps.store, g.stemcell));
      } catch (err) {
        if (!(err instanceof NotFoundError)) throw err;
        missing.set(err.message, [...(missing.get(err.message) ?? []), `"${g.name}"`]);
      }
    }
    if (missing.size > 0) {
      const lines = [...missing].map(([message, groups]) => `Instance group${groups.length === 1 ? '' : 's'} ${groups.join(', ')}: ${message}`);
      throw new NotFoundError(`Deployment "${plan.name}" cannot be deployed; nothing was changed. ${lines.join('\n')}`);
    }
    return resolved;
  }

  private async diffLoaded(loaded: LoadedDeploymentManifest, showSecrets: boolean): Promise<DiffResponse> {
    const before = await this.deployedManifest(loaded.name);
    const diff = this.manifests.diff(before, loaded, { showSecrets });
    const { plan, bySlot, cloudConfig } = await this.plan(loaded);
    const reported = new Set(diff.changes.filter((c) => c.kind === 'disk_size').map((c) => c.subject));
    const stemcellsResolved = await this.resolveStemcells(plan);
    const addresses = await planAddresses(this.deps.store, plan, cloudConfig);
    const stemcells = [
      ...stemcellChanges(plan, bySlot, stemcellsResolved),
      ...placementChanges(plan, bySlot),
      ...addressChanges(plan, bySlot, addresses),
      ...diskTypeChanges(plan, bySlot).filter((c) => !reported.has(c.subject)),
    ];
    const changes = [...diff.changes, ...stemcells];
    const lines = stemcells.map((c) => `~ ${c.subject}: ${c.summary}`);
    const text = stemcells.length === 0 ? diff.text : diff.changes.length === 0 ? [`deployment ${loaded.name}:`, ...lines].join('\n') : [diff.text, ...lines].join('\n');
    return { ...diff, changes, text, warnings: [...new Set([...loaded.warnings, ...diff.warnings])] };
  }

  private async run(ctx: TaskContext, loaded: LoadedDeploymentManifest, text: string, recreate: boolean): Promise<string> {
    const store = this.deps.store;
    await store.deployments.setPending(loaded.name, text);
    const { plan, bySlot, stemcells, cloudConfig } = await ctx.step('Preparing deployment', 'Binding instances', 1, 1, async () => {
      const planned = await this.plan(loaded);
      return { ...planned, stemcells: await this.resolveStemcells(planned.plan) };
    });
    // Checked again inside the task: another deployment may have taken an address since the diff.
    const addresses = await planAddresses(store, plan, cloudConfig);

    const planned = new Set(plan.groups.flatMap((g) => g.instances.map((s) => slot(g.name, s.index))));
    const unneeded = [...bySlot.values()].filter((r) => !planned.has(slot(r.group, r.index)));
    for (const [i, r] of unneeded.entries()) {
      await ctx.step('Deleting unneeded instances', instanceName(r), i + 1, unneeded.length, () => removeInstance(this.deps, ctx, r));
    }
    if (cloudConfig !== null) {
      await ctx.step('Preparing deployment', 'Reserving IP addresses', 1, 1, async () => {
        // Every planned instance exists before it owns an address, so that no address is held by an id nobody has.
        for (const g of plan.groups) {
          for (const spec of g.instances) {
            if (bySlot.has(slot(g.name, spec.index))) continue;
            bySlot.set(slot(g.name, spec.index), await store.instances.create({ id: spec.instanceId, deployment: plan.name, group: g.name, index: spec.index }));
          }
        }
        await reserveAddresses(store, plan.name, addresses);
      });
    }

    let updated = 0;
    for (const wave of groupWaves(plan.groups, plan.update)) {
      const results = await Promise.allSettled(wave.map((g) => this.updateGroup(ctx, plan, g, bySlot, stemcells, recreate, addresses)));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed !== undefined) throw failed.reason;
      for (const r of results) if (r.status === 'fulfilled') updated += r.value;
    }

    await store.deployments.markDeployed(loaded.name, text);
    const total = plan.groups.reduce((n, g) => n + g.instances.length, 0);
    return JSON.stringify({ deployment: loaded.name, instances: total, updated, deleted: unneeded.length });
  }

  /** Returns how many instances were updated. */
  private async updateGroup(
    ctx: TaskContext,
    plan: DeploymentPlan,
    group: PlannedGroup,
    bySlot: Map<string, InstanceRecord>,
    stemcells: GroupStemcells,
    recreate: boolean,
    addresses: AddressPlan,
  ): Promise<number> {
    const policy: UpdatePolicy = policyFor(group, plan.update);
    const targets: InstanceTarget[] = [];
    if (group.instances.length === 0) return 0;
    const stemcell = stemcells.get(group.name);
    if (stemcell === undefined) throw new Error(`no stemcell was resolved for instance group "${group.name}"`);
    for (const spec of group.instances) {
      const record =
        bySlot.get(slot(group.name, spec.index)) ??
        (await this.deps.store.instances.create({ id: spec.instanceId, deployment: plan.name, group: group.name, index: spec.index }));
      // A VM that booted another stemcell (or one not recorded) is replaced, keeping its disks.
      const changed = record.vmCid !== null && !sameStemcell(record.stemcell, stemcell);
      // So is one whose cloud properties the cloud config now resolves differently.
      const placement = group.placements?.[spec.index];
      if (placement !== undefined && record.az !== placement.az) await this.deps.store.instances.setAz(record.id, placement.az);
      targets.push({
        record,
        group: placement === undefined ? group : { ...group, cloudProperties: placement.cloudProperties },
        spec,
        name: instanceName(record),
        stemcell: { resolve: () => Promise.resolve(stemcell), changed },
        placementChanged: placement !== undefined && placementChanged(record, placement.cloudProperties),
        addressChanged: addressChange(record, addresses.get(record.id) ?? []) !== null,
      });
    }
    const upToDate = recreate ? targets.map(() => false) : await Promise.all(targets.map((t) => isUpToDate(this.deps, t)));
    const needed = targets.filter((_, i) => upToDate[i] !== true);
    if (needed.length === 0) return 0;

    const batches = updateBatches(needed, policy.canaries, resolveMaxInFlight(policy.maxInFlight, group.instances.length));
    let index = 0;
    for (const batch of batches) {
      await ctx.checkCancelled();
      const watch = batch.canary ? policy.canaryWatchTime : policy.updateWatchTime;
      const results = await Promise.allSettled(
        batch.items.map((t) => {
          const step = `${t.name}${batch.canary ? ' (canary)' : ''}`;
          return ctx.step('Updating instance', step, ++index, needed.length, () => updateInstance(this.deps, ctx, t, { recreate, watch }));
        }),
      );
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed !== undefined) throw failed.reason;
    }
    return needed.length;
  }
}

/** A VM created with other cloud properties than the instance's now (a VM from before they were recorded is kept). */
function placementChanged(r: InstanceRecord, cloudProperties: Record<string, unknown>): boolean {
  return r.vmCid !== null && r.cloudProperties !== null && canonicalJson(r.cloudProperties) !== canonicalJson(cloudProperties);
}

/** The instances whose VM's cloud properties differ from what the cloud config resolves now: each is recreated. */
function placementChanges(plan: DeploymentPlan, bySlot: Map<string, InstanceRecord>): DiffChange[] {
  const out: DiffChange[] = [];
  for (const g of plan.groups) {
    for (const spec of g.instances) {
      const r = bySlot.get(slot(g.name, spec.index));
      const p = g.placements?.[spec.index];
      if (r === undefined || p === undefined || !placementChanged(r, p.cloudProperties)) continue;
      out.push({
        subject: `${g.name}/${spec.index}`,
        kind: 'cloud_config',
        summary: `cloud_properties: ${canonicalJson(r.cloudProperties)} -> ${canonicalJson(p.cloudProperties)} (the VM is recreated, its persistent disk kept)`,
      });
    }
  }
  return out;
}

/** The instances whose VM has other addresses than the ones allocated now: each is recreated. */
function addressChanges(plan: DeploymentPlan, bySlot: Map<string, InstanceRecord>, addresses: AddressPlan): DiffChange[] {
  const out: DiffChange[] = [];
  for (const g of plan.groups) {
    for (const spec of g.instances) {
      const r = bySlot.get(slot(g.name, spec.index));
      const change = r === undefined ? null : addressChange(r, addresses.get(r.id) ?? []);
      if (change === null) continue;
      out.push({ subject: `${g.name}/${spec.index}`, kind: 'cloud_config', summary: `${change} (the VM is recreated, its persistent disk kept)` });
    }
  }
  return out;
}

/** Disk sizes that change without the manifest saying so (a disk type resized in the cloud config). */
function diskTypeChanges(plan: DeploymentPlan, bySlot: Map<string, InstanceRecord>): DiffChange[] {
  const out: DiffChange[] = [];
  for (const g of plan.groups) {
    if (g.placements === undefined) continue;
    for (const spec of g.instances) {
      const r = bySlot.get(slot(g.name, spec.index));
      if (r?.specJson == null) continue;
      const was = (JSON.parse(r.specJson) as { persistentDiskMiB?: number }).persistentDiskMiB ?? 0;
      if (was === spec.persistentDiskMiB) continue;
      out.push({ subject: `${g.name}/${spec.index}`, kind: 'disk_size', summary: `persistent disk ${was} MiB → ${spec.persistentDiskMiB} MiB` });
    }
  }
  return out;
}

/** The instances whose VM booted another stemcell than the one the deploy resolved: each is recreated. */
function stemcellChanges(plan: DeploymentPlan, bySlot: Map<string, InstanceRecord>, stemcells: GroupStemcells): DiffChange[] {
  const out: DiffChange[] = [];
  for (const g of plan.groups) {
    const to = stemcells.get(g.name);
    if (to === undefined) continue;
    for (const spec of g.instances) {
      const r = bySlot.get(slot(g.name, spec.index));
      if (r === undefined || r.vmCid === null || sameStemcell(r.stemcell, to)) continue;
      out.push({
        subject: `${g.name}/${spec.index}`,
        kind: 'stemcell',
        summary: `stemcell: ${stemcellLabel(r.stemcell)} -> ${stemcellLabel(to)} (the VM is recreated, its persistent disk kept)`,
      });
    }
  }
  return out;
}
