/**
 * Parses and validates a manifest: YAML (with positions) → release-compat conversion → zod schema
 * → semantic checks. Every problem found is reported at once, each with its path and line/column;
 * errors throw InvalidManifestError, warnings come back with the manifest.
 */
import { distance } from 'fastest-levenshtein';
import { LineCounter, parseDocument } from 'yaml';
import type { z } from 'zod';
import { InvalidManifestError, type ManifestProblem } from '../common/errors.js';
import { formatPath, ProblemList, type PathSegment, type RawProblem } from './problems.js';
import {
  convertReleaseManifest,
  toOriginalPath,
  type ManifestFormat,
  type PathMapping,
} from './release-compat.js';
import { KNOWN_KEYS, manifestSchema, mapKindAt, type NativeManifest } from './schema.js';
import { checkSemantics } from './semantic-checks.js';
import { describe } from './units.js';
import { locate } from './yaml-positions.js';

export interface LoadedManifest {
  manifest: NativeManifest;
  warnings: ManifestProblem[];
  /** Which shape the text was written in (release-compat manifests were converted). */
  format: ManifestFormat;
}

export interface LoadOptions {
  /** Named in the error message. */
  fileName?: string;
}

export function loadManifest(text: string, options: LoadOptions = {}): LoadedManifest {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const problems = doc.errors.map((e): ManifestProblem => {
      const pos = lines.linePos(e.pos[0]);
      return {
        severity: 'error',
        path: 'yaml',
        line: pos.line,
        column: pos.col,
        message: `${e.message.split('\n')[0] ?? e.message} (the file is not valid YAML)`,
      };
    });
    throw new InvalidManifestError(problems, options);
  }
  const raw: unknown = doc.toJS({ maxAliasCount: 1000 });
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new InvalidManifestError(
      [
        {
          severity: 'error',
          path: '',
          line: 1,
          column: 1,
          message: `a manifest is a map with name, update and instance_groups, got ${describe(raw)}`,
        },
      ],
      options,
    );
  }

  // The converter reports in the user's paths; schema and semantic checks in native paths.
  const compatProblems = new ProblemList();
  const converted = convertReleaseManifest(raw, compatProblems);
  const nativeProblems = new ProblemList();
  const parsed = manifestSchema.safeParse(converted.native);
  if (!parsed.success)
    for (const issue of parsed.error.issues) addIssue(issue, converted.native, nativeProblems);
  checkSemantics(converted.native, nativeProblems);

  const place = (p: RawProblem, mappings: PathMapping[]): ManifestProblem => {
    const original = toOriginalPath(p.path, mappings);
    const pos = locate(doc, lines, original, p.onKey);
    return {
      severity: p.severity,
      path: formatPath(original),
      line: pos?.line ?? null,
      column: pos?.column ?? null,
      message: p.message,
    };
  };
  const all = [
    ...compatProblems.items.map((p) => place(p, [])),
    ...nativeProblems.items.map((p) => place(p, converted.mappings)),
  ];
  all.sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0));
  if (all.some((p) => p.severity === 'error') || !parsed.success)
    throw new InvalidManifestError(all, options);
  return { manifest: parsed.data, warnings: all, format: converted.format };
}

function valueAt(root: unknown, path: ReadonlyArray<PropertyKey>): unknown {
  let cur = root;
  for (const seg of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[seg];
  }
  return cur;
}

function addIssue(issue: z.core.$ZodIssue, root: unknown, problems: ProblemList): void {
  const path = issue.path.filter((s): s is PathSegment => typeof s === 'string' || typeof s === 'number');
  const value = valueAt(root, path);
  const generic = /^(Invalid|Too small|Too big)/.test(issue.message);
  switch (issue.code) {
    case 'unrecognized_keys':
      for (const key of issue.keys) problems.error([...path, key], unknownKeyMessage(key, path), true);
      return;
    case 'invalid_type': {
      if (value === undefined) {
        problems.error(path, `missing required key "${String(path[path.length - 1])}"`);
      } else if (issue.expected === 'int') {
        problems.error(path, `expected a whole number, got ${describe(value)}`);
      } else {
        const article =
          issue.expected === 'array'
            ? 'a list'
            : issue.expected === 'object' || issue.expected === 'record'
              ? 'a map'
              : `a ${issue.expected}`;
        problems.error(path, `expected ${article}, got ${describe(value)}`);
      }
      return;
    }
    case 'invalid_value':
      problems.error(
        path,
        `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}, got ${describe(value)}`,
      );
      return;
    case 'too_small':
      problems.error(
        path,
        generic ? `must be at least ${String(issue.minimum)}, got ${describe(value)}` : issue.message,
      );
      return;
    case 'too_big':
      problems.error(
        path,
        generic ? `must be at most ${String(issue.maximum)}, got ${describe(value)}` : issue.message,
      );
      return;
    case 'invalid_format':
      problems.error(
        path,
        generic ? `${describe(value)} is not valid here` : `${describe(value)}: ${issue.message}`,
      );
      return;
    default:
      problems.error(path, issue.message);
  }
}

function unknownKeyMessage(key: string, at: PathSegment[]): string {
  const kind = mapKindAt(at);
  const where =
    kind === null
      ? ''
      : ` in ${kind === 'manifest' ? 'the manifest' : kind === 'group' ? 'an instance group' : kind === 'docker' ? 'the docker daemon options' : `a ${kind}`}`;
  const known: readonly string[] = kind === null ? [] : KNOWN_KEYS[kind];
  let best: string | null = null;
  let bestDistance = Infinity;
  for (const k of known) {
    const d = distance(key, k);
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  if (best !== null && bestDistance <= Math.max(2, Math.floor(key.length / 3)))
    return `unknown key "${key}"; did you mean "${best}"?`;
  if (kind === 'group' && (KNOWN_KEYS.container as readonly string[]).includes(key))
    return `unknown key "${key}"${where}; it is a container key, so put it under one of the group's containers`;
  return `unknown key "${key}"${where}; known keys are ${known.join(', ')}`;
}
