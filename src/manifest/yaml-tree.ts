/**
 * Small helpers over the `yaml` library's node tree, shared by ops files and variables. Nodes keep
 * their source ranges; `Origins` remembers which file a node came from, so that a problem in a
 * value inserted by an ops file or a vars file is located in that file.
 */
import { isAlias, isMap, isPair, isScalar, isSeq, visit, type Document, type Node, type Pair } from 'yaml';
import type { YamlFile } from './yaml-read.js';

/** A value whose aliases expand beyond the bound: refused as an alias bomb, in `file`. */
export class AliasBombError extends Error {
  constructor(
    readonly file: YamlFile,
    readonly offset: number,
  ) {
    super(`the aliases of ${file.fileName} expand to too many values`);
  }
}

/** node → the file it was read from (absent: the manifest). */
export type Origins = WeakMap<object, YamlFile>;

export function keyString(k: unknown): string | null {
  if (isScalar(k)) return k.value === null ? null : String(k.value);
  if (typeof k === 'string' || typeof k === 'number') return String(k);
  return null;
}

export function findPair(map: unknown, key: string): Pair | undefined {
  if (!isMap(map)) return undefined;
  return map.items.find((p) => isPair(p) && keyString(p.key) === key);
}

export function kindOf(node: unknown): string {
  if (node === null || node === undefined) return 'nothing';
  if (isMap(node)) return 'a map';
  if (isSeq(node)) return 'a list';
  if (isScalar(node)) return node.value === null ? 'nothing' : `${typeof node.value} ${JSON.stringify(node.value)}`;
  return 'a value';
}

function hasAlias(node: Node): boolean {
  let found = false;
  visit(node, {
    Alias() {
      found = true;
      return visit.BREAK;
    },
  });
  return found;
}

/**
 * A copy of `node` (from `from`) that can live in `target`: a deep clone that keeps its ranges, or,
 * when it holds aliases (whose anchors are in the other document), a node rebuilt from its value
 * (alias expansion bounded by `maxAliasCount`) placed at the node's own range.
 */
export function transplant(
  node: Node | null,
  from: YamlFile,
  target: Document,
  origins: Origins,
  maxAliasCount: number,
): Node {
  if (node === null) return target.createNode(null) as Node;
  let copy: Node;
  if (!hasAlias(node) && !isAlias(node)) {
    copy = node.clone() as Node;
  } else {
    let js: unknown;
    try {
      js = isAlias(node)
        ? node.resolve(from.doc)?.toJS(from.doc, { maxAliasCount })
        : node.toJS(from.doc, { maxAliasCount });
    } catch (err) {
      if (err instanceof ReferenceError) throw new AliasBombError(from, node.range?.[0] ?? 0);
      throw err;
    }
    copy = target.createNode(js) as Node;
    const range = node.range;
    if (range) visit(copy, { Node: (_k, n) => void (n.range = [...range]) });
    if (range) copy.range = [...range];
  }
  origins.set(copy, from);
  visit(copy, {
    Node(_k, n) {
      origins.set(n, from);
    },
    Pair(_k, p) {
      origins.set(p, from);
    },
  });
  return copy;
}
