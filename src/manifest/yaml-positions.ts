/**
 * Finds the line/column of a path in a parsed YAML document, so that every problem can say where
 * it is. A path that does not exist (a missing key) points at the nearest map that does.
 */
import { isAlias, isMap, isPair, isScalar, isSeq, type Document, type LineCounter, type Node } from 'yaml';
import type { PathSegment } from './problems.js';
import type { Origins } from './yaml-tree.js';

export interface Position {
  line: number;
  column: number;
  /** Set when the value came from another file (an ops file or a vars file). */
  file?: string;
}

function keyOf(k: unknown): string | null {
  if (isScalar(k)) return String(k.value);
  return null;
}

export function locate(
  doc: Document,
  lines: LineCounter,
  path: ReadonlyArray<PathSegment>,
  onKey = false,
  origins?: Origins,
): Position | null {
  let node: unknown = doc.contents;
  let best: unknown = node;
  for (const [i, seg] of path.entries()) {
    if (isAlias(node)) node = node.resolve(doc);
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && keyOf(p.key) === String(seg));
      if (!pair) break;
      const last = i === path.length - 1;
      if (last && onKey) {
        best = pair.key;
        break;
      }
      best = pair.value ?? pair.key;
      node = pair.value;
      if (!node) break;
    } else if (isSeq(node) && typeof seg === 'number') {
      const item = node.items[seg];
      if (!item) break;
      best = item;
      node = item;
    } else {
      break;
    }
  }
  const range = (best as Node | null | undefined)?.range;
  if (!range) return null;
  const from = best && typeof best === 'object' ? origins?.get(best) : undefined;
  const pos = (from?.lines ?? lines).linePos(range[0]);
  return from ? { line: pos.line, column: pos.col, file: from.fileName } : { line: pos.line, column: pos.col };
}
