import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InvalidManifestError } from '../../../src/common/errors.js';
import { loadManifest, planDeployment } from '../../../src/manifest/index.js';

const ROOT = join(import.meta.dirname, '../../fixtures/manifests');
const invalid = readdirSync(join(ROOT, 'invalid'))
  .filter((f) => f.endsWith('.yml'))
  .sort();
const valid = readdirSync(join(ROOT, 'valid'))
  .filter((f) => f.endsWith('.yml'))
  .sort();

function loadError(text: string): InvalidManifestError {
  try {
    loadManifest(text, { fileName: 'm.yml' });
  } catch (err) {
    if (err instanceof InvalidManifestError) return err;
    throw err;
  }
  throw new Error('the manifest was accepted');
}

describe('invalid manifest corpus', () => {
  it('has at least 40 cases, each with expectations', () => {
    expect(invalid.length).toBeGreaterThanOrEqual(40);
    for (const f of invalid)
      expect(
        readFileSync(join(ROOT, 'invalid', f.replace(/\.yml$/, '.expected.txt')), 'utf8').trim(),
      ).not.toBe('');
  });

  for (const file of invalid) {
    it(file, () => {
      const text = readFileSync(join(ROOT, 'invalid', file), 'utf8');
      const expected = readFileSync(join(ROOT, 'invalid', file.replace(/\.yml$/, '.expected.txt')), 'utf8')
        .split('\n')
        .filter((l) => l.trim() !== '');
      const err = loadError(text);
      expect(err.code).toBe('invalid_manifest');
      expect(err.httpStatus).toBe(422);
      for (const line of expected) expect(err.message).toContain(line);
      // Every problem has a place in the file.
      for (const p of err.details.problems) expect(p.line).toBeGreaterThan(0);
    });
  }
});

describe('valid manifest corpus', () => {
  it('has the seed-like v1, the v2 release example and native ones', () => {
    expect(valid).toEqual(
      expect.arrayContaining(['seed-v1-jobs.yml', 'release-v2-instance-groups.yml', 'native-demo.yml']),
    );
  });

  for (const file of valid) {
    it(file, () => {
      const loaded = loadManifest(readFileSync(join(ROOT, 'valid', file), 'utf8'));
      expect(loaded.warnings.filter((w) => w.severity === 'error')).toEqual([]);
      const plan = planDeployment(loaded.manifest);
      expect(plan.groups.length).toBeGreaterThan(0);
      expect(plan.groups.flatMap((g) => g.instances).length).toBeGreaterThan(0);
    });
  }
});
