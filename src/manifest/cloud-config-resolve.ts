/**
 * An instance group's references into the cloud config (vm_type, vm_extensions, azs,
 * persistent_disk_type, networks) resolved into what its VMs are made of: per instance its AZ
 * (round-robin by index over the group's azs) and its VM's cloud_properties, merged in BOSH's
 * order — the AZ's, then the vm_type's, then each extension's — with the group's inline
 * cloud_properties over them (they win on conflicts, and keep working without a cloud config);
 * and the persistent disk's size and cloud_properties from its disk type.
 */
import type { CloudConfig } from './cloud-config.js';

export interface CloudConfigRefs {
  vmType: string | null;
  vmExtensions: string[];
  azs: string[];
  persistentDiskType: string | null;
  networks: string[];
}

export interface Placement {
  az: string | null;
  cloudProperties: Record<string, unknown>;
}

export interface ResolvedGroup {
  /** One per instance index. */
  placements: Placement[];
  /** Set when the group names a disk type. */
  disk: { sizeMiB: number; cloudProperties: Record<string, unknown> } | null;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Maps merged key by key (nested maps too); `over` wins. */
export function mergeCloudProperties(base: Obj, over: Obj): Obj {
  const out: Obj = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = isObj(b) && isObj(v) ? mergeCloudProperties(b, v) : v;
  }
  return out;
}

const quoted = (names: string[]): string => names.map((n) => `"${n}"`).join(', ');

/**
 * Resolves one group; `problems` gets a sentence per name the cloud config does not define
 * (naming the group, the key and the names that exist). Without a cloud config, vm_type is kept
 * as a cloud property `vm_type` (as before cloud configs) and azs only place the instances (no
 * cloud properties), so that docker release manifests deploy as they are; vm_extensions and
 * persistent_disk_type cannot be resolved and are refused.
 */
export function resolveGroup(
  config: CloudConfig | null,
  group: string,
  refs: CloudConfigRefs,
  inline: Obj,
  instances: number,
  problems: string[],
): ResolvedGroup {
  if (config === null) {
    const named = [
      ...refs.vmExtensions.map(() => 'vm_extensions'),
      ...(refs.persistentDiskType === null ? [] : ['persistent_disk_type']),
    ];
    if (named.length > 0) {
      problems.push(
        `instance group "${group}" uses ${[...new Set(named)].join(', ')}, but the director has no cloud config; upload one with \`bosun update-cloud-config FILE\``,
      );
    }
    const cloudProperties = refs.vmType === null ? inline : { vm_type: refs.vmType, ...inline };
    const az = (index: number): string | null => (refs.azs.length === 0 ? null : (refs.azs[index % refs.azs.length] ?? null));
    return { placements: Array.from({ length: instances }, (_, index) => ({ az: az(index), cloudProperties })), disk: null };
  }
  const lookup = (section: 'azs' | 'vm_types' | 'vm_extensions' | 'disk_types', key: string, name: string): Obj | null => {
    const entries = (config[section] ?? []) as Array<{ name: string; cloud_properties?: Obj | undefined }>;
    const found = entries.find((e) => e.name === name);
    if (found !== undefined) return found as Obj;
    const have = entries.map((e) => e.name);
    problems.push(
      `instance group "${group}": ${key} "${name}" is not in the cloud config (${have.length === 0 ? `it has no ${section}` : `${section}: ${quoted(have)}`})`,
    );
    return null;
  };
  const props = (e: Obj | null): Obj => (e !== null && isObj(e['cloud_properties']) ? e['cloud_properties'] : {});

  const vmType = refs.vmType === null ? {} : props(lookup('vm_types', 'vm_type', refs.vmType));
  const extensions = refs.vmExtensions.map((n) => props(lookup('vm_extensions', 'vm_extensions', n)));
  const azs = refs.azs.map((n) => ({ name: n, props: props(lookup('azs', 'azs', n)) }));
  const networkNames = (config.networks ?? []).map((n) => n.name);
  for (const n of refs.networks) {
    if (!networkNames.includes(n)) {
      problems.push(
        `instance group "${group}": network "${n}" is not in the cloud config (${networkNames.length === 0 ? 'it has no networks' : `networks: ${quoted(networkNames)}`})`,
      );
    }
  }
  let disk: ResolvedGroup['disk'] = null;
  if (refs.persistentDiskType !== null) {
    const t = lookup('disk_types', 'persistent_disk_type', refs.persistentDiskType);
    if (t !== null) disk = { sizeMiB: Number(t['disk_size']), cloudProperties: props(t) };
  }
  const placements = Array.from({ length: instances }, (_, index): Placement => {
    const az = azs.length === 0 ? null : (azs[index % azs.length] ?? null);
    let merged: Obj = az === null ? {} : az.props;
    merged = mergeCloudProperties(merged, vmType);
    for (const e of extensions) merged = mergeCloudProperties(merged, e);
    return { az: az?.name ?? null, cloudProperties: mergeCloudProperties(merged, inline) };
  });
  return { placements, disk };
}
