import { stringify } from 'yaml';
import type { NativeManifest } from './schema.js';
import { BOSH_YAML_OPTIONS } from './yaml-read.js';

/**
 * The native manifest as YAML (what `bosun validate --print-native` prints for a converted one).
 * Written with the YAML 1.1 rules it is read with, so that a string such as "no" or "on" is quoted
 * and reads back as the same string.
 */
export function serializeManifest(manifest: NativeManifest): string {
  // lineWidth 0: never fold long values; blockQuote literal keeps Dockerfiles and multi-line env readable.
  return stringify(manifest, {
    ...BOSH_YAML_OPTIONS,
    lineWidth: 0,
    blockQuote: 'literal',
    aliasDuplicateObjects: false,
    directives: false,
  });
}
