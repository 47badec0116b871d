/**
 * BOSH ops files (`bosun validate|deploy -o ops.yml`): a list of `{type: replace|remove, path,
 * value}` applied in order to the manifest, with the BOSH CLI's path syntax:
 *
 *   /key            a map key               /key?       create it when missing (and all below)
 *   /0              a list index            /-          after the last item (append)
 *   /name=redis     the one list item whose `name` is `redis` (`?`: append it when missing)
 *   :before :after  insert next to an index or a match   :prev :next   the neighbouring item
 *   ~1 and ~0       an escaped "/" and "~" inside a segment
 *
 * The edits are made on the manifest's YAML tree, so that every value the user did not touch keeps
 * its line and column, and an inserted value is located in the ops file it came from.
 */
import { isMap, isScalar, isSeq, Pair, type Document, type Node, type YAMLMap, type YAMLSeq } from 'yaml';
import type { ManifestProblem } from '../common/errors.js';
import { findPair, keyString, kindOf, transplant, type Origins } from './yaml-tree.js';
import { MAX_ALIAS_COUNT, positionAt, type YamlFile } from './yaml-read.js';

type Modifier = 'before' | 'after' | 'prev' | 'next';

type Token =
  | { kind: 'key'; key: string; optional: boolean }
  | { kind: 'index'; index: number; modifiers: Modifier[] }
  | { kind: 'append' }
  | { kind: 'match'; key: string; value: string; optional: boolean; modifiers: Modifier[] };

class OpError extends Error {}

function unescape(s: string): string {
  return s.replace(/~1/g, '/').replace(/~0/g, '~');
}

function splitModifiers(seg: string): { base: string; modifiers: Modifier[] } {
  const modifiers: Modifier[] = [];
  let base = seg;
  for (;;) {
    const m = /^(.*):(before|after|prev|next)$/.exec(base);
    if (!m) break;
    modifiers.unshift(m[2] as Modifier);
    base = m[1] ?? '';
  }
  return { base, modifiers };
}

export function parseOpsPath(path: string): Token[] {
  if (path === '' || path === '/') return [];
  if (!path.startsWith('/'))
    throw new OpError(`path "${path}" must start with "/", e.g. "/instance_groups/name=docker/instances"`);
  const tokens: Token[] = [];
  let optional = false;
  for (const raw of path.slice(1).split('/')) {
    let seg = raw;
    if (seg === '-') {
      tokens.push({ kind: 'append' });
      continue;
    }
    const { base, modifiers } = splitModifiers(seg);
    seg = base;
    if (seg.endsWith('?')) {
      optional = true;
      seg = seg.slice(0, -1);
    }
    if (/^\d+$/.test(seg)) {
      tokens.push({ kind: 'index', index: Number(seg), modifiers });
      continue;
    }
    const eq = seg.indexOf('=');
    if (eq > 0) {
      tokens.push({
        kind: 'match',
        key: unescape(seg.slice(0, eq)),
        value: unescape(seg.slice(eq + 1)),
        optional,
        modifiers,
      });
      continue;
    }
    if (modifiers.length > 0)
      throw new OpError(`":${modifiers[0] ?? ''}" in path "${path}" only follows a list index or a "key=value" match`);
    tokens.push({ kind: 'key', key: unescape(seg), optional });
  }
  return tokens;
}

function pathText(tokens: Token[], upTo: number): string {
  return (
    '/' +
    tokens
      .slice(0, upTo + 1)
      .map((t) =>
        t.kind === 'key'
          ? t.key
          : t.kind === 'index'
            ? String(t.index)
            : t.kind === 'append'
              ? '-'
              : `${t.key}=${t.value}`,
      )
      .join('/')
  );
}

function matchesOf(seq: YAMLSeq, key: string, value: string): number[] {
  const out: number[] = [];
  seq.items.forEach((item, i) => {
    const p = findPair(item, key);
    if (p && isScalar(p.value) && String(p.value.value) === value) out.push(i);
  });
  return out;
}

function applyNav(index: number, modifiers: Modifier[]): { index: number; insert: 'before' | 'after' | null } {
  let i = index;
  let insert: 'before' | 'after' | null = null;
  for (const m of modifiers) {
    if (m === 'prev') i -= 1;
    else if (m === 'next') i += 1;
    else insert = m;
  }
  return { index: i, insert };
}

interface Op {
  type: 'replace' | 'remove';
  tokens: Token[];
  path: string;
  value: Node | null;
  /** The op's own custom error message (BOSH's `error:` key). */
  error: string | null;
}

function emptyFor(next: Token | undefined, doc: Document): Node {
  return doc.createNode(next && next.kind !== 'key' ? [] : {}) as Node;
}

/** Applies one op to the document; throws OpError with a sentence. */
function applyOp(doc: Document, op: Op, makeValue: () => Node): void {
  const { tokens } = op;
  if (tokens.length === 0) {
    if (op.type === 'remove') throw new OpError('cannot remove the whole manifest (path "/")');
    doc.contents = makeValue() as typeof doc.contents;
    return;
  }
  let cur: unknown = doc.contents;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i] as Token;
    const last = i === tokens.length - 1;
    const at = pathText(tokens, i);
    if (t.kind === 'key') {
      if (!isMap(cur))
        throw new OpError(`expected a map at "${pathText(tokens, i - 1)}" to find key "${t.key}", found ${kindOf(cur)}`);
      const map: YAMLMap = cur;
      const pair = findPair(map, t.key);
      if (last) {
        if (op.type === 'remove') {
          if (!pair) {
            if (t.optional) return;
            throw new OpError(`expected to find a map key "${t.key}" for path "${at}"${foundKeys(map)}`);
          }
          map.items.splice(map.items.indexOf(pair), 1);
        } else if (pair) {
          pair.value = makeValue();
        } else {
          // As in the BOSH CLI, a replace creates a missing last key even without "?".
          map.items.push(new Pair(doc.createNode(t.key), makeValue()));
        }
        return;
      }
      if (!pair) {
        if (!t.optional) throw new OpError(`expected to find a map key "${t.key}" for path "${at}"${foundKeys(map)}`);
        if (op.type === 'remove') return;
        const created = emptyFor(tokens[i + 1], doc);
        map.items.push(new Pair(doc.createNode(t.key), created));
        cur = created;
      } else {
        if (pair.value === null || (isScalar(pair.value) && pair.value.value === null)) {
          if (!t.optional) throw new OpError(`expected to find a map or a list at "${at}", found nothing`);
          if (op.type === 'remove') return;
          pair.value = emptyFor(tokens[i + 1], doc);
        }
        cur = pair.value;
      }
      continue;
    }
    if (!isSeq(cur))
      throw new OpError(`expected a list at "${pathText(tokens, i - 1)}", found ${kindOf(cur)}`);
    const seq: YAMLSeq = cur;
    if (t.kind === 'append') {
      if (!last || op.type === 'remove')
        throw new OpError(`"-" (after the last item) can only end the path of a replace, in "${op.path}"`);
      seq.items.push(makeValue());
      return;
    }
    let index: number;
    let insert: 'before' | 'after' | null = null;
    if (t.kind === 'index') {
      ({ index, insert } = applyNav(t.index, t.modifiers));
    } else {
      const found = matchesOf(seq, t.key, t.value);
      if (found.length > 1)
        throw new OpError(`expected to find exactly one matching list item for path "${at}" but found ${found.length}`);
      if (found.length === 0) {
        if (!t.optional) throw new OpError(`expected to find exactly one matching list item for path "${at}" but found 0`);
        if (op.type === 'remove') return;
        if (last) {
          seq.items.push(makeValue());
          return;
        }
        const created = doc.createNode({ [t.key]: t.value }) as Node;
        seq.items.push(created);
        cur = created;
        continue;
      }
      ({ index, insert } = applyNav(found[0] ?? 0, t.modifiers));
    }
    const inRange = index >= 0 && index < seq.items.length;
    if (last && insert !== null && op.type === 'replace') {
      if (!inRange && !(insert === 'before' && index === seq.items.length))
        throw new OpError(`expected to find list index ${index} for path "${at}", but the list has ${seq.items.length} items`);
      seq.items.splice(insert === 'before' ? index : index + 1, 0, makeValue());
      return;
    }
    if (!inRange)
      throw new OpError(`expected to find list index ${index} for path "${at}", but the list has ${seq.items.length} items`);
    if (last) {
      if (op.type === 'remove') seq.items.splice(index, 1);
      else seq.items[index] = makeValue();
      return;
    }
    cur = seq.items[index];
  }
}

function foundKeys(map: YAMLMap): string {
  const keys = map.items.map((p) => keyString(p.key)).filter((k): k is string => k !== null);
  return keys.length ? ` (found map keys: ${keys.map((k) => `"${k}"`).join(', ')})` : ' (the map is empty)';
}

function opProblem(file: YamlFile, node: Node | null | undefined, message: string): ManifestProblem {
  const pos = positionAt(file.lines, node?.range?.[0] ?? 0);
  return { severity: 'error', path: '', line: pos.line, column: pos.column, message, file: file.fileName };
}

/** Reads an ops file's list of ops; each malformed op is a located problem. */
function readOps(file: YamlFile, problems: ManifestProblem[]): Array<{ op: Op; node: Node }> {
  const root = file.doc.contents;
  if (!isSeq(root)) {
    problems.push(opProblem(file, root, `an ops file is a list of {type: replace|remove, path: …, value: …}, got ${kindOf(root)}`));
    return [];
  }
  const out: Array<{ op: Op; node: Node }> = [];
  root.items.forEach((item, i) => {
    const node = item as Node;
    if (!isMap(node)) {
      problems.push(opProblem(file, node, `op ${i + 1} must be a map with type, path and value, got ${kindOf(node)}`));
      return;
    }
    const get = (k: string): unknown => {
      const p = findPair(node, k);
      return isScalar(p?.value) ? p.value.value : p?.value;
    };
    const type = get('type');
    const path = get('path');
    if (type !== 'replace' && type !== 'remove') {
      problems.push(
        opProblem(file, findPair(node, 'type')?.value as Node | undefined ?? node, `op ${i + 1}: type must be "replace" or "remove", got ${JSON.stringify(type ?? null)}`),
      );
      return;
    }
    if (typeof path !== 'string') {
      problems.push(opProblem(file, node, `op ${i + 1}: path must be a string like "/instance_groups/name=docker/instances"`));
      return;
    }
    for (const k of node.items.map((p) => keyString(p.key))) {
      if (k !== null && !['type', 'path', 'value', 'error'].includes(k))
        problems.push(opProblem(file, findPair(node, k)?.key as Node, `op ${i + 1}: unknown key "${k}" (an op has type, path, value and error)`));
    }
    const valuePair = findPair(node, 'value');
    if (type === 'replace' && !valuePair) {
      problems.push(opProblem(file, node, `op ${i + 1}: a replace needs a value`));
      return;
    }
    let tokens: Token[];
    try {
      tokens = parseOpsPath(path);
    } catch (err) {
      problems.push(opProblem(file, findPair(node, 'path')?.value as Node, `op ${i + 1}: ${(err as Error).message}`));
      return;
    }
    const error = get('error');
    out.push({
      op: { type, tokens, path, value: (valuePair?.value as Node | null) ?? null, error: typeof error === 'string' ? error : null },
      node,
    });
  });
  return out;
}

/** Applies every ops file in order; problems are located in the ops files. */
export function applyOpsFiles(doc: Document, opsFiles: YamlFile[], origins: Origins): ManifestProblem[] {
  const all: ManifestProblem[] = [];
  for (const file of opsFiles) {
    const problems: ManifestProblem[] = [];
    for (const { op, node } of readOps(file, problems)) {
      try {
        applyOp(doc, op, () => transplant(op.value, file, doc, origins, MAX_ALIAS_COUNT));
      } catch (err) {
        if (!(err instanceof OpError)) throw err;
        const message = op.error ?? err.message;
        problems.push(opProblem(file, findPair(node, 'path')?.value as Node, `${op.type} "${op.path}": ${message}`));
      }
    }
    all.push(...problems.sort((a, b) => (a.line ?? 0) - (b.line ?? 0)));
  }
  return all;
}
