/**
 * Parses and validates a manifest: YAML read as BOSH reads it (with positions) → ops files →
 * variables → null values dropped → release-compat conversion → zod schema → semantic checks →
 * unresolved variables. Every problem found is reported at once (once per place), each with its
 * path and line/column; errors throw InvalidManifestError, warnings come back with the manifest.
 */
import { visit, type Document } from 'yaml';
import type { z } from 'zod';
import { InvalidManifestError, type ManifestProblem } from '../common/errors.js';
import { applyOpsFiles } from './ops-files.js';
import { nearestKey } from './nearest-key.js';
import { formatPath, ProblemList, type PathSegment, type RawProblem } from './problems.js';
import {
  convertReleaseManifest,
  toOriginalPath,
  type ManifestFormat,
  type PathMapping,
} from './release-compat.js';
import { KNOWN_KEYS, manifestSchema, mapKindAt, type NativeManifest } from './schema.js';
import { checkSemantics, type ManifestPolicy } from './semantic-checks.js';
import { describe } from './units.js';
import { collectVars, interpolate, parseVarFlag, placeholdersIn } from './variables.js';
import { locate } from './yaml-positions.js';
import { MAX_ALIAS_COUNT, positionAt, readYaml, type YamlFile } from './yaml-read.js';
import { AliasBombError, type Origins } from './yaml-tree.js';

export interface LoadedManifest {
  manifest: NativeManifest;
  warnings: ManifestProblem[];
  /** Which shape the text was written in (release-compat manifests were converted). */
  format: ManifestFormat;
}

/** A file given next to the manifest (`-o ops.yml`, `-l vars.yml`). */
export interface ExtraFile {
  fileName: string;
  text: string;
}

export interface RenderOptions {
  /** Named in the error message. */
  fileName?: string;
  /** BOSH ops files, applied in order before variables are filled in (`-o`). */
  opsFiles?: ExtraFile[];
  /** BOSH vars files (`-l`); a later file wins. */
  varsFiles?: ExtraFile[];
  /** `-v NAME=VALUE` flags, as typed; they win over vars files. */
  vars?: string[];
}

export interface LoadOptions extends RenderOptions, ManifestPolicy {}

interface Rendered {
  main: YamlFile;
  doc: Document;
  origins: Origins;
  raw: unknown;
}

function fail(problems: ManifestProblem[], fileName: string | undefined): never {
  throw new InvalidManifestError(problems, fileName === undefined ? {} : { fileName });
}

/** Ops files, then variables, on the manifest's YAML tree; the result as plain data. */
function render(text: string, options: RenderOptions): Rendered {
  const fileName = options.fileName ?? 'manifest';
  const main = readYaml(text, fileName);
  const doc = main.doc as Document;
  const origins: Origins = new WeakMap();
  const ops = (options.opsFiles ?? []).map((f) => readYaml(f.text, f.fileName, false));
  const varsFiles = (options.varsFiles ?? []).map((f) => readYaml(f.text, f.fileName, false));
  const problems: ManifestProblem[] = [];
  try {
    problems.push(...applyOpsFiles(doc, ops, origins));
    const flags: Array<{ name: string; value: unknown }> = [];
    for (const v of options.vars ?? []) {
      const parsed = parseVarFlag(v);
      if (typeof parsed === 'string')
        problems.push({ severity: 'error', path: '', line: null, column: null, message: parsed });
      else flags.push(parsed);
    }
    const vars = collectVars(varsFiles, flags, doc, problems);
    if (problems.length === 0) problems.push(...interpolate(doc, vars, origins, main));
  } catch (err) {
    if (!(err instanceof AliasBombError)) throw err;
    const pos = positionAt(err.file.lines, err.offset);
    problems.push({
      severity: 'error',
      path: '',
      line: pos.line,
      column: pos.column,
      file: err.file.fileName,
      message: `the aliases of this value expand to more than ${MAX_ALIAS_COUNT} values, which bosun refuses as an "alias bomb"; write the repeated values out or nest fewer aliases`,
    });
  }
  if (problems.length > 0) fail(problems, options.fileName);

  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (err) {
    let at: [number, number, number] | undefined;
    visit(doc, {
      Alias(_k, a) {
        at = a.range ?? undefined;
        return visit.BREAK;
      },
    });
    const pos = positionAt(main.lines, at?.[0] ?? 0);
    const bomb = err instanceof ReferenceError && /alias count/i.test(err.message);
    fail(
      [
        {
          severity: 'error',
          path: '',
          line: pos.line,
          column: pos.column,
          message: bomb
            ? `the aliases of this file (the first one is here) expand to more than ${MAX_ALIAS_COUNT} values, which bosun refuses as an "alias bomb"; write the repeated values out or nest fewer aliases`
            : `${(err as Error).message}; check the anchors (&name) and aliases (*name) of this file`,
        },
      ],
      options.fileName,
    );
  }
  return { main, doc, origins, raw };
}

/**
 * The manifest with ops files applied and variables filled in, as YAML text (what `bosun deploy`
 * sends to the director when it is given -o, -l or -v). Throws InvalidManifestError.
 */
export function renderManifest(text: string, options: RenderOptions = {}): string {
  const { doc } = render(text, options);
  return doc.toString({ lineWidth: 0 });
}

/** Keys whose maps give null a meaning (an empty value); everywhere else BOSH treats null as absent. */
const NULL_IS_A_VALUE = new Set(['env', 'labels', 'log_options']);

function dropNulls(v: unknown, key: string | null): void {
  if (Array.isArray(v)) {
    for (const x of v) dropNulls(x, null);
  } else if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    for (const [k, x] of Object.entries(o)) {
      if (x === null && !NULL_IS_A_VALUE.has(key ?? '')) delete o[k];
      else dropNulls(x, k);
    }
  }
}

function declaredVariables(raw: unknown): Map<string, string> {
  const out = new Map<string, string>();
  const list = (raw as Record<string, unknown>)['variables'];
  if (Array.isArray(list))
    for (const v of list)
      if (v && typeof v === 'object' && typeof (v as Record<string, unknown>)['name'] === 'string')
        out.set(
          String((v as Record<string, unknown>)['name']),
          String((v as Record<string, unknown>)['type'] ?? 'unknown'),
        );
  return out;
}

function checkUnresolved(native: unknown, declared: Map<string, string>, problems: ProblemList): void {
  const walk = (v: unknown, path: PathSegment[]): void => {
    if (typeof v === 'string') {
      for (const p of new Set(placeholdersIn(v))) {
        const name = p.slice(2, -2).replace(/^!/, '').split('.')[0] ?? '';
        const type = declared.get(name);
        const generated =
          type === undefined
            ? ''
            : ` (the manifest's variables: declares it with type ${type}, which a BOSH director generates; bosun does not generate variables)`;
        problems.error(
          path,
          `unresolved variable ${p}${generated}; give its value with -v ${name}=VALUE or in a vars file with -l vars.yml`,
        );
      }
    } else if (Array.isArray(v)) v.forEach((x, i) => walk(x, [...path, i]));
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, [...path, k]);
  };
  walk(native, []);
}

export function loadManifest(text: string, options: LoadOptions = {}): LoadedManifest {
  const { main, doc, origins, raw } = render(text, options);
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    fail(
      [
        {
          severity: 'error',
          path: '',
          line: 1,
          column: 1,
          message: `a manifest is a map with name, update and instance_groups, got ${describe(raw)}`,
        },
      ],
      options.fileName,
    );
  }
  dropNulls(raw, null);

  // The converter reports in the user's paths; schema and semantic checks in native paths.
  const compatProblems = new ProblemList();
  const converted = convertReleaseManifest(raw, compatProblems);
  const nativeProblems = new ProblemList();
  const parsed = manifestSchema.safeParse(converted.native);
  if (!parsed.success)
    for (const issue of parsed.error.issues) addIssue(issue, converted.native, nativeProblems);
  checkSemantics(converted.native, nativeProblems, options);
  checkUnresolved(converted.native, declaredVariables(raw), nativeProblems);

  const place = (p: RawProblem, mappings: PathMapping[]): ManifestProblem => {
    const original = toOriginalPath(p.path, mappings);
    const pos = locate(doc, main.lines, original, p.onKey, origins);
    return {
      severity: p.severity,
      path: formatPath(original),
      line: pos?.line ?? null,
      column: pos?.column ?? null,
      message: p.message,
      ...(pos?.file === undefined ? {} : { file: pos.file }),
    };
  };
  const seen = new Set<string>();
  const all = [
    ...compatProblems.items.map((p) => place(p, [])),
    ...nativeProblems.items.map((p) => place(p, converted.mappings)),
  ].filter((p) => {
    // A deployment-level value read by several groups is one place: say it once.
    const key = `${p.severity}\u0000${p.path}\u0000${p.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  all.sort(
    (a, b) =>
      Number(a.file !== undefined) - Number(b.file !== undefined) ||
      (a.line ?? 0) - (b.line ?? 0) ||
      (a.column ?? 0) - (b.column ?? 0),
  );
  if (all.some((p) => p.severity === 'error') || !parsed.success) fail(all, options.fileName);
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

/** One zod issue as a problem with a sentence; `unknownKey` words the message for an unknown key (the manifest's by default). */
export function addIssue(
  issue: z.core.$ZodIssue,
  root: unknown,
  problems: ProblemList,
  unknownKey: (key: string, at: PathSegment[]) => string = unknownKeyMessage,
): void {
  const path = issue.path.filter((s): s is PathSegment => typeof s === 'string' || typeof s === 'number');
  const value = valueAt(root, path);
  // An unresolved ((variable)) is reported as such, not as a value of the wrong type.
  if (typeof value === 'string' && placeholdersIn(value).length > 0) return;
  const generic = /^(Invalid|Too small|Too big)/.test(issue.message);
  switch (issue.code) {
    case 'unrecognized_keys':
      for (const key of issue.keys) problems.error([...path, key], unknownKey(key, path), true);
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
  const best = nearestKey(key, known);
  if (best !== null)
    return `unknown key "${key}"; did you mean "${best}"?`;
  if (kind === 'group' && (KNOWN_KEYS.container as readonly string[]).includes(key))
    return `unknown key "${key}"${where}; it is a container key, so put it under one of the group's containers`;
  return `unknown key "${key}"${where}; known keys are ${known.join(', ')}`;
}
