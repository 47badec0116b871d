/**
 * Binds the deployer's ManifestPort to the manifest module (src/manifest/): load + validate,
 * plan (with the director's stable instance ids), diff. The director never sees the manifest's
 * own types beyond this file.
 */
import { formatManifestProblem } from '../../common/errors.js';
import { diffManifests, dnsAliasesOf, loadManifest, planDeployment } from '../../manifest/index.js';
import type { ManifestPolicy, NativeManifest } from '../../manifest/index.js';
import type { DiffResponse } from '../../common/contracts/api.js';
import type { DeploymentPlan, LoadedDeploymentManifest, ManifestPort, PlannedGroup } from './plan.js';
import { groupVmNetworks } from '../networks/group-networks.js';

function native(loaded: LoadedDeploymentManifest): NativeManifest {
  return loaded.manifest as NativeManifest;
}

/** The manifest module under a director's policy (e.g. the VM directories volumes may mount). */
export function manifestModuleWith(policy: ManifestPolicy): ManifestPort {
  return { ...manifestModule, load: (text) => loadWith(text, policy) };
}

function loadWith(text: string, policy: ManifestPolicy): LoadedDeploymentManifest {
  const loaded = loadManifest(text, policy);
  return { name: loaded.manifest.name, manifest: loaded.manifest, warnings: loaded.warnings.map(formatManifestProblem) };
}

export const manifestModule: ManifestPort = {
  load(text: string): LoadedDeploymentManifest {
    const loaded = loadManifest(text);
    return { name: loaded.manifest.name, manifest: loaded.manifest, warnings: loaded.warnings.map(formatManifestProblem) };
  },

  plan(loaded, instanceId, cloudConfig): DeploymentPlan {
    const plan = planDeployment(native(loaded), cloudConfig === undefined ? { instanceId } : { instanceId, cloudConfig });
    const maxInFlight = plan.update.maxInFlight.kind === 'count' ? plan.update.maxInFlight.count : `${plan.update.maxInFlight.percent}%`;
    return {
      name: plan.name,
      update: { ...plan.update, maxInFlight },
      groups: plan.groups.map((g): PlannedGroup => {
        const networks = groupVmNetworks(g.networks, cloudConfig);
        const staticIps: Record<string, string[]> = {};
        for (const n of g.networks) if (n.staticIps.length > 0) staticIps[n.name] = n.staticIps;
        return {
          name: g.name,
          persistentDiskMiB: g.persistentDiskMiB,
          diskCloudProperties: g.persistentDiskCloudProperties,
          cloudProperties: g.vmType === null ? g.cloudProperties : { vm_type: g.vmType, ...g.cloudProperties },
          ...(g.placements === undefined ? {} : { placements: g.placements }),
          stemcell: { os: g.stemcell.os, name: g.stemcell.name, version: g.stemcell.version },
          networks,
          staticIps,
          networkRefs: g.networks,
          azs: g.cloudConfigRefs.azs,
          instances: g.instances,
          // The manifest module resolved max_in_flight for this group's size already.
          update: { maxInFlight: g.maxInFlight },
        };
      }),
    };
  },

  diff(before, after, options): DiffResponse {
    return diffManifests(before === null ? null : native(before), native(after), { showSecrets: options.showSecrets });
  },

  dnsAliases(loaded) {
    return dnsAliasesOf(native(loaded));
  },
};
