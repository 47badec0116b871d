/**
 * The director's manifest policy: what a manifest may ask of a VM beyond ordinary containers.
 * `privileged`, `devices` and `cap_adds` each give a container root-equivalent power over its
 * VM; an operator who does not want API token holders to have that turns them off in the director
 * config (`manifest_policy:`). Default: all allowed (the docker BOSH release's behaviour). A
 * refused manifest is refused before any task exists, with every offending place named.
 */
import { LineCounter, parseDocument } from 'yaml';
import { InvalidManifestError, type ManifestProblem } from '../common/errors.js';

export interface ManifestPolicy {
  allowPrivileged: boolean;
  allowDevices: boolean;
  allowCapAdds: boolean;
}

export const PERMISSIVE_POLICY: ManifestPolicy = { allowPrivileged: true, allowDevices: true, allowCapAdds: true };

/** The slice of a loaded (native) manifest the policy reads. */
export interface PolicyManifest {
  instance_groups: Array<{
    name: string;
    containers: Array<{ name: string; privileged?: boolean; devices?: unknown[]; cap_adds?: unknown[] }>;
  }>;
}

const RULES: Array<{ key: 'privileged' | 'devices' | 'cap_adds'; setting: keyof ManifestPolicy; configKey: string; used: (v: unknown) => boolean }> = [
  { key: 'privileged', setting: 'allowPrivileged', configKey: 'allow_privileged', used: (v) => v === true },
  { key: 'devices', setting: 'allowDevices', configKey: 'allow_devices', used: (v) => Array.isArray(v) && v.length > 0 },
  { key: 'cap_adds', setting: 'allowCapAdds', configKey: 'allow_cap_adds', used: (v) => Array.isArray(v) && v.length > 0 },
];

/** The places where `manifest` uses what `policy` forbids; `text` (the YAML) gives them lines. */
export function manifestPolicyProblems(manifest: PolicyManifest, text: string, policy: ManifestPolicy): ManifestProblem[] {
  if (policy.allowPrivileged && policy.allowDevices && policy.allowCapAdds) return [];
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines });
  const problems: ManifestProblem[] = [];
  manifest.instance_groups.forEach((group, g) => {
    group.containers.forEach((container, c) => {
      for (const rule of RULES) {
        if (policy[rule.setting] || !rule.used(container[rule.key])) continue;
        const path = ['instance_groups', g, 'containers', c, rule.key];
        // A manifest in the docker release's `jobs:` form has other paths: then no line, only names.
        const node = doc.getIn(path, true) as { range?: [number, number, number] } | undefined;
        const pos = node?.range ? lines.linePos(node.range[0]) : null;
        problems.push({
          path: `instance_groups[${g}].containers[${c}].${rule.key}`,
          line: pos?.line ?? null,
          column: pos?.col ?? null,
          severity: 'error',
          message:
            `container "${container.name}" of instance group "${group.name}" uses ${rule.key}, which this director forbids ` +
            `(director config: manifest_policy.${rule.configKey}: false); remove it, or ask the director's operator to allow it`,
        });
      }
    });
  });
  return problems;
}

/** Throws InvalidManifestError (422) naming every forbidden use. */
export function enforceManifestPolicy(manifest: PolicyManifest, text: string, policy: ManifestPolicy): void {
  const problems = manifestPolicyProblems(manifest, text, policy);
  if (problems.length > 0) throw new InvalidManifestError(problems);
}
