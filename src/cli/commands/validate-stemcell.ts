/**
 * `bosun validate`'s stemcell line: which stemcell the manifest's groups boot (a manifest without
 * `stemcells` boots the newest uploaded debian-12 one), and, when the targeted director answers,
 * which uploaded stemcell that is now. Validation never needs the director: an unreachable one
 * only leaves that part out.
 */
import type { StemcellInfo } from '../../common/contracts/api.js';
import { describeStemcellChoice, type DeploymentPlan, type StemcellChoice } from '../../manifest/index.js';
import { compareStemcellVersions } from '../../stemcell/stemcell-manifest.js';
import { DirectorClient } from '../client.js';
import type { CliContext } from '../context.js';
import type { GlobalOptions } from '../output.js';
import { readTargetIfAny, targetConfigPath } from '../target.js';

/** How long validate waits for the director's stemcell list. */
const DIRECTOR_TIMEOUT_MS = 3000;

export interface StemcellNote {
  /** false: the manifest has no `stemcells` (every group boots the default). */
  named: boolean;
  /** The line validate prints after "Stemcell:". */
  note: string;
  /** Per alias (null: the default), the uploaded NAME/VERSION it resolves to now (null: none); absent when the director was not asked. */
  onDirector?: Array<{ alias: string | null; stemcell: string | null }>;
}

/** The uploaded stemcells of the targeted director, or null when there is none or it does not answer. */
export function uploadedStemcellsIfReachable(options: GlobalOptions, context: CliContext | undefined): Promise<StemcellInfo[] | null> {
  return directorGetIfReachable<StemcellInfo[]>(options, context, '/api/v1/stemcells');
}

/** GET `path` on the targeted director, or null when there is none or it does not answer. */
export async function directorGetIfReachable<T>(options: GlobalOptions, context: CliContext | undefined, path: string): Promise<T | null> {
  if (context === undefined) return null;
  const target = await readTargetIfAny(targetConfigPath(options, context.env, context.homeDir));
  if (target === null) return null;
  try {
    return await new DirectorClient(target, DIRECTOR_TIMEOUT_MS).get<T>(path);
  } catch {
    return null;
  }
}

/** The same rule as the director's (src/director/stemcells/stemcell-service.ts resolveStemcell). */
function resolveChoice(c: StemcellChoice, uploaded: StemcellInfo[]): StemcellInfo | undefined {
  const candidates = uploaded.filter((s) => (c.os !== null ? s.operatingSystem === c.os : s.name === c.name));
  if (c.version !== 'latest') return candidates.find((s) => s.version === c.version);
  return [...candidates].sort((a, b) => compareStemcellVersions(b.version, a.version))[0];
}

export function stemcellNote(plan: DeploymentPlan, uploaded: StemcellInfo[] | null): StemcellNote {
  const choices = new Map<string | null, StemcellChoice>();
  for (const g of plan.groups) if (!choices.has(g.stemcell.alias)) choices.set(g.stemcell.alias, g.stemcell);
  const named = [...choices.keys()].some((a) => a !== null);
  const resolved = uploaded === null ? undefined : [...choices.values()].map((c) => ({ alias: c.alias, stemcell: ((s) => (s ? `${s.name}/${s.version}` : null))(resolveChoice(c, uploaded)) }));
  const onDirector = (i: number): string => {
    if (resolved === undefined) return '';
    const s = resolved[i]?.stemcell ?? null;
    return s === null ? ' (none uploaded on the director: `bosun upload-stemcell stemcells/bosun-debian-12-<version>.tgz`)' : ` (on the director: ${s})`;
  };
  const parts = [...choices.values()].map((c, i) => (c.alias === null ? `${describeStemcellChoice(c)}${onDirector(i)}` : `${c.alias}: ${describeStemcellChoice(c)}${onDirector(i)}`));
  const note = named ? parts.join('; ') : `none named in the manifest: VMs boot ${parts[0] ?? describeStemcellChoice({ alias: null, os: 'debian-12', name: null, version: 'latest' })}`;
  return { named, note, ...(resolved === undefined ? {} : { onDirector: resolved }) };
}
