/**
 * A DNS alias name belongs to one deployment: before a deploy (and its dry run), the manifest's
 * `dns_aliases` names are checked against every other deployment's. Without the check the first
 * deployment by name would silently win on every VM.
 */
import { InvalidInputError } from '../../common/errors.js';
import type { DeploymentRecord } from '../../store/store.js';
import type { ManifestPort } from '../deploy/plan.js';

const normal = (name: string): string => name.toLowerCase().replace(/\.$/, '');

/** Throws naming each alias of `text` that another deployment already has. */
export function assertNoAliasClashes(
  manifests: Pick<ManifestPort, 'load' | 'dnsAliases'>,
  text: string,
  deployments: ReadonlyArray<Pick<DeploymentRecord, 'name' | 'manifest' | 'pendingManifest'>>,
): void {
  if (manifests.dnsAliases === undefined) return;
  const loaded = manifests.load(text);
  const mine = manifests.dnsAliases(loaded).map((a) => a.name);
  if (mine.length === 0) return;
  const owners = new Map<string, string>();
  for (const d of deployments) {
    if (d.name === loaded.name) continue;
    const other = d.pendingManifest ?? d.manifest;
    if (other === null) continue;
    let names: string[];
    try {
      names = manifests.dnsAliases(manifests.load(other)).map((a) => a.name);
    } catch {
      continue; // a stored manifest this version cannot read has no aliases to clash with
    }
    for (const n of names) if (!owners.has(normal(n))) owners.set(normal(n), d.name);
  }
  const clashes = [...new Set(mine.map(normal))].flatMap((n) => {
    const owner = owners.get(n);
    return owner === undefined ? [] : [`"${n}" is already an alias of deployment "${owner}"`];
  });
  if (clashes.length === 0) return;
  throw new InvalidInputError(
    `Deployment "${loaded.name}": dns_aliases ${clashes.join('; ')}. A DNS alias belongs to one deployment: rename it here, or remove it from the other deployment first.`,
  );
}
