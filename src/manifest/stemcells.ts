/**
 * Which stemcell each instance group's VMs boot, as BOSH v2 manifests say it: top-level
 * `stemcells: [{alias, os | name, version}]` and `stemcell: ALIAS` on a group (a manifest with one
 * stemcell may leave `stemcell` out). A manifest without `stemcells` gets the newest uploaded
 * stemcell of bosun's OS. The director turns a choice into an uploaded stemcell
 * (src/director/stemcells/stemcell-service.ts); here it is only what the manifest says.
 */
import type { PathSegment, ProblemList } from './problems.js';
import { describe } from './units.js';

/** The OS of bosun's stemcells (src/stemcell's STEMCELL_OS; that layer is beside this one, not below). */
const STEMCELL_OS = 'debian-12';

export interface StemcellChoice {
  /** The manifest's alias; null: the manifest names no stemcell (the default below). */
  alias: string | null;
  /** By operating system (BOSH's `os`) or by stemcell name (`name`): exactly one is set. */
  os: string | null;
  name: string | null;
  /** "latest" (the highest uploaded version) or an exact version. */
  version: string;
}

/** What a manifest without `stemcells` boots. */
export const DEFAULT_STEMCELL: StemcellChoice = { alias: null, os: STEMCELL_OS, name: null, version: 'latest' };

/** "the newest uploaded debian-12 stemcell", "bosun-debian-12/0.1.0-A", for messages. */
export function describeStemcellChoice(c: StemcellChoice): string {
  if (c.os !== null) return c.version === 'latest' ? `the newest uploaded ${c.os} stemcell` : `the ${c.os} stemcell of version ${c.version}`;
  return c.version === 'latest' ? `the newest uploaded ${c.name ?? '?'}` : `${c.name ?? '?'}/${c.version}`;
}

/** A stemcell version: a string, or a whole number (a YAML float would lose digits: 3.10 → 3.1). */
export function parseStemcellVersion(v: unknown): string | null {
  if (typeof v === 'string') return v.trim() === '' ? 'the stemcell version is empty; write "latest" or a version' : null;
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return null;
  if (typeof v === 'number') return `write the version ${v} in quotes (version: "${v}"): as a YAML number it may lose digits`;
  return `expected a stemcell version ("latest" or a version string), got ${describe(v)}`;
}

/** The slices of the native manifest this reads (schema.ts imports this file, so no import back). */
interface ManifestStemcells {
  stemcells?: Array<{ alias: string; os?: string | undefined; name?: string | undefined; version: string | number }> | undefined;
}

export function groupStemcellOf(m: ManifestStemcells, g: { stemcell?: string | undefined }): StemcellChoice {
  const list = m.stemcells ?? [];
  const s = g.stemcell === undefined ? (list.length === 1 ? list[0] : undefined) : list.find((x) => x.alias === g.stemcell);
  if (s === undefined) return DEFAULT_STEMCELL;
  return { alias: s.alias, os: s.os ?? null, name: s.os === undefined ? (s.name ?? null) : null, version: String(s.version) };
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Aliases unique, os or name (one of them), and every group's `stemcell` naming an alias. */
export function checkStemcells(raw: Obj, problems: ProblemList): void {
  const list = Array.isArray(raw['stemcells']) ? (raw['stemcells'] as unknown[]) : [];
  const aliases = new Map<string, number>();
  list.forEach((s, i) => {
    if (!isObj(s)) return;
    const at: PathSegment[] = ['stemcells', i];
    if (typeof s['alias'] === 'string') {
      const first = aliases.get(s['alias']);
      if (first !== undefined) problems.error([...at, 'alias'], `duplicate stemcell alias "${s['alias']}"; stemcells[${first}] already uses it`);
      else aliases.set(s['alias'], i);
    }
    const hasOs = s['os'] !== undefined;
    const hasName = s['name'] !== undefined;
    if (!hasOs && !hasName) problems.error(at, `stemcell "${String(s['alias'] ?? i)}" names neither os nor name; write e.g. os: ${STEMCELL_OS}`);
    if (hasOs && hasName) problems.error([...at, 'name'], `stemcell "${String(s['alias'] ?? i)}" gives both os and name; keep one (os: ${String(s['os'])} picks any stemcell of that OS)`);
  });
  const known = [...aliases.keys()].map((a) => `"${a}"`).join(', ');
  const groups = Array.isArray(raw['instance_groups']) ? (raw['instance_groups'] as unknown[]) : [];
  groups.forEach((g, gi) => {
    if (!isObj(g)) return;
    const name = typeof g['name'] === 'string' ? g['name'] : `#${gi}`;
    const ref = g['stemcell'];
    if (typeof ref === 'string' && !aliases.has(ref)) {
      problems.error(
        ['instance_groups', gi, 'stemcell'],
        list.length === 0
          ? `instance group "${name}" names stemcell "${ref}", but the manifest has no stemcells; add stemcells: [{alias: ${ref}, os: ${STEMCELL_OS}, version: latest}]`
          : `instance group "${name}" names stemcell "${ref}", which is not an alias of the manifest's stemcells (${known})`,
      );
    }
    if (ref === undefined && aliases.size > 1) {
      problems.error(
        ['instance_groups', gi],
        `instance group "${name}" names no stemcell and the manifest has ${aliases.size} (${known}); add stemcell: ALIAS to the group`,
      );
    }
  });
}
