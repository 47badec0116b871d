/** The manifest module's public API: load (parse + validate), plan, diff, serialise. */
export {
  loadManifest,
  renderManifest,
  type ExtraFile,
  type LoadedManifest,
  type LoadOptions,
  type RenderOptions,
} from './load-manifest.js';
export type { ManifestPolicy } from './semantic-checks.js';
export {
  planDeployment,
  defaultInstanceId,
  type DeploymentPlan,
  type GroupPlan,
  type UpdatePolicy,
  type WatchTime,
  type NetworkPlan,
  type InstanceIdFn,
} from './plan.js';
export { diffManifests, REDACTED, isSecretName, type DiffOptions } from './diff.js';
export { serializeManifest } from './serialize.js';
export { DEFAULT_STEMCELL, describeStemcellChoice, type StemcellChoice } from './stemcells.js';
export type { NativeManifest, NativeInstanceGroup, NativeContainer } from './schema.js';
export type { ManifestFormat } from './release-compat.js';
export { resolveMaxInFlight, type MaxInFlight } from './units.js';
export { dnsAliasesOf } from './dns-aliases.js';
export { parseCrossVmLink, linkEnvironment, type CrossVmLink } from './cross-vm-links.js';
