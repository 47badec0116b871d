/**
 * BOSH variables: `((name))` placeholders filled from `-v name=value` and `-l vars.yml`, as the
 * BOSH CLI does. A placeholder that is the whole value takes the variable's value with its type (a
 * number, a map …); one inside a longer string is replaced by the variable's text. `((name.key))`
 * reads a key of a map variable (e.g. a certificate's `ca`). Placeholders left over are reported by
 * the loader, with their place, where bosun uses the value.
 */
import { isMap, isScalar, parse, Scalar, visit, type Document, type Node } from 'yaml';
import type { ManifestProblem } from '../common/errors.js';
import { findPair, transplant, type Origins } from './yaml-tree.js';
import { BOSH_YAML_OPTIONS, MAX_ALIAS_COUNT, positionAt, type YamlFile } from './yaml-read.js';

/** BOSH's placeholder syntax. */
export const VARIABLE = /\(\((!?[-/.\w\p{L}]+)\)\)/gu;
const WHOLE = /^\(\((!?[-/.\w\p{L}]+)\)\)$/u;

export interface VarValue {
  node: Node | null;
  /** The vars file it was read from; null for `-v`. */
  file: YamlFile | null;
}

export type Vars = Map<string, VarValue>;

/** `-v name=value`: the value is read as a YAML scalar (so `-v instances=3` is a number). */
export function parseVarFlag(flag: string): { name: string; value: unknown } | string {
  const eq = flag.indexOf('=');
  if (eq <= 0) return `-v takes NAME=VALUE, got "${flag}"`;
  const name = flag.slice(0, eq);
  const text = flag.slice(eq + 1);
  let value: unknown = text;
  try {
    const parsed: unknown = parse(text, BOSH_YAML_OPTIONS);
    if (parsed === null || typeof parsed !== 'object') value = parsed ?? text;
  } catch {
    value = text;
  }
  return { name, value };
}

/** Collects the variables of vars files (later files win) and `-v` flags (which win over files). */
export function collectVars(
  varsFiles: YamlFile[],
  flags: Array<{ name: string; value: unknown }>,
  target: Document,
  problems: ManifestProblem[],
): Vars {
  const vars: Vars = new Map();
  for (const f of varsFiles) {
    const root = f.doc.contents;
    if (!isMap(root)) {
      const pos = positionAt(f.lines, root?.range?.[0] ?? 0);
      problems.push({
        severity: 'error',
        path: '',
        line: pos.line,
        column: pos.column,
        file: f.fileName,
        message: 'a vars file is a map of variable names to values, e.g. "db-password: s3cret"',
      });
      continue;
    }
    for (const p of root.items) {
      const k = isScalar(p.key) ? String(p.key.value) : null;
      if (k !== null) vars.set(k, { node: (p.value as Node | null) ?? null, file: f });
    }
  }
  for (const { name, value } of flags) vars.set(name, { node: target.createNode(value) as Node, file: null });
  return vars;
}

function lookup(vars: Vars, ref: string): VarValue | undefined {
  const [name = '', ...keys] = ref.replace(/^!/, '').split('.');
  const v = vars.get(name);
  if (!v || keys.length === 0) return v;
  let node: unknown = v.node;
  for (const k of keys) {
    const p = findPair(node, k);
    if (!p) return undefined;
    node = p.value;
  }
  return { node: (node as Node | null) ?? null, file: v.file };
}

/** Replaces the placeholders it can resolve; returns problems (a map variable inside a string). */
export function interpolate(doc: Document, vars: Vars, origins: Origins, main: YamlFile): ManifestProblem[] {
  const problems: ManifestProblem[] = [];
  if (vars.size === 0) return problems;
  visit(doc, {
    Scalar(key, node) {
      if (key === 'key' || typeof node.value !== 'string' || !node.value.includes('((')) return undefined;
      const text = node.value;
      const whole = WHOLE.exec(text);
      if (whole) {
        const v = lookup(vars, whole[1] ?? '');
        if (!v) return undefined;
        const copy = v.file
          ? transplant(v.node, v.file, doc, origins, MAX_ALIAS_COUNT)
          : ((v.node?.clone() as Node | undefined) ?? (doc.createNode(null) as Node));
        // The value stands where the placeholder was: problems in it point at the placeholder.
        const range = node.range;
        const from = origins.get(node);
        visit(copy, {
          Node(_k, n) {
            if (range) n.range = [...range];
            if (from) origins.set(n, from);
            else origins.delete(n);
          },
        });
        if (range) copy.range = [...range];
        if (from) origins.set(copy, from);
        else origins.delete(copy);
        return copy;
      }
      let changed = false;
      const out = text.replace(VARIABLE, (m, ref: string) => {
        const v = lookup(vars, ref);
        if (!v) return m;
        const value = isScalar(v.node) ? v.node.value : v.node;
        if (value !== null && typeof value === 'object') {
          const file = origins.get(node) ?? main;
          const pos = positionAt(file.lines, node.range?.[0] ?? 0);
          problems.push({
            severity: 'error',
            path: '',
            line: pos.line,
            column: pos.column,
            ...(file === main ? {} : { file: file.fileName }),
            message: `variable ${m} is a map or a list, so it can only stand alone as a value, not inside the text ${JSON.stringify(text)}`,
          });
          return m;
        }
        changed = true;
        return String(value);
      });
      if (!changed) return undefined;
      const s = new Scalar(out);
      s.range = node.range;
      const from = origins.get(node);
      if (from) origins.set(s, from);
      return s;
    },
  });
  return problems;
}

/** Every placeholder in a string, for the "unresolved variable" errors. */
export function placeholdersIn(s: string): string[] {
  return [...s.matchAll(VARIABLE)].map((m) => m[0]);
}
