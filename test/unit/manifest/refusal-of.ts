import { InvalidManifestError } from '../../../src/common/errors.js';
import { loadManifest, type LoadOptions } from '../../../src/manifest/index.js';

/** The InvalidManifestError a manifest is refused with; fails the test when it is accepted. */
export function refusalOf(text: string, options: LoadOptions = {}): InvalidManifestError {
  try {
    loadManifest(text, options);
  } catch (err) {
    if (err instanceof InvalidManifestError) return err;
    throw err;
  }
  throw new Error('the manifest was accepted');
}
