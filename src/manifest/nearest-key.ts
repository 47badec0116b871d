/** "Did you mean …?" for a mistyped key: the closest known key, when it is close enough to be a typo. */
import { distance } from 'fastest-levenshtein';

/** The known key nearest to `key` by edit distance, or null when none is within max(2, length/3) edits. */
export function nearestKey(key: string, known: readonly string[]): string | null {
  let best: string | null = null;
  let bestDistance = Infinity;
  for (const k of known) {
    const d = distance(key, k);
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  return best !== null && bestDistance <= Math.max(2, Math.floor(key.length / 3)) ? best : null;
}
