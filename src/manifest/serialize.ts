import { stringify } from 'yaml';
import type { NativeManifest } from './schema.js';

/** The native manifest as YAML (what `bosun validate --print-native` prints for a converted one). */
export function serializeManifest(manifest: NativeManifest): string {
  // lineWidth 0: never fold long values; blockQuote literal keeps Dockerfiles and multi-line env readable.
  return stringify(manifest, { lineWidth: 0, blockQuote: 'literal', aliasDuplicateObjects: false });
}
