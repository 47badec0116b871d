/**
 * The docker BOSH release's own manifests across its history (v1 `jobs:`/`templates:`, v2
 * `instance_groups:`/`jobs:`, with their ops files) and BOSH's manifest rules, each with its
 * expected outcome in `<case>.expect.yml`: accepted with exactly these warnings and this native
 * form, or refused with exactly these located errors. Every accepted case must round-trip:
 * its native form validates to the same manifest and plans identically.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { formatManifestProblem, InvalidManifestError } from '../../../src/common/errors.js';
import { loadManifest, planDeployment, serializeManifest, type LoadedManifest } from '../../../src/manifest/index.js';

const DIR = join(import.meta.dirname, '../../fixtures/manifests/release');
const read = (f: string): string => readFileSync(join(DIR, f), 'utf8');

interface Expectation {
  source: string;
  manifest: string;
  ops_files?: string[];
  vars?: string[];
  outcome: 'accepted' | 'refused';
  format?: string;
  native?: string;
  warnings?: string[];
  errors?: string[];
}

const cases = readdirSync(DIR)
  .filter((f) => f.endsWith('.expect.yml'))
  .sort()
  .map((f) => ({ name: f.replace(/\.expect\.yml$/, ''), e: parse(read(f)) as Expectation }));

function load(e: Expectation): LoadedManifest {
  return loadManifest(read(e.manifest), {
    fileName: e.manifest,
    opsFiles: (e.ops_files ?? []).map((f) => ({ fileName: f, text: read(f) })),
    vars: e.vars ?? [],
  });
}

describe('the docker BOSH release corpus', () => {
  it('covers v1 and v2 manifests of the release across its tags, ops files, and refused cases', () => {
    const sources = cases.map((c) => c.e.source).join('\n');
    for (const tag of ['v1:', 'v20:', 'v29.0.0:', 'v30.0.0:', 'v36.0.2:']) expect(sources).toContain(tag);
    expect(cases.filter((c) => c.e.ops_files?.length).length).toBeGreaterThanOrEqual(2);
    expect(cases.filter((c) => c.e.outcome === 'refused').length).toBeGreaterThanOrEqual(4);
    expect(new Set(cases.map((c) => c.e.format).filter(Boolean))).toEqual(new Set(['bosh-release-v1', 'bosh-release-v2']));
  });

  for (const { name, e } of cases) {
    describe(`${name} (${e.source})`, () => {
      if (e.outcome === 'refused') {
        it('is refused with these located errors', () => {
          let err: unknown;
          try {
            load(e);
          } catch (x) {
            err = x;
          }
          expect(err).toBeInstanceOf(InvalidManifestError);
          const problems = (err as InvalidManifestError).details.problems.filter((p) => p.severity === 'error');
          expect(problems.map(formatManifestProblem)).toEqual(e.errors);
          for (const p of problems) expect(p.line).toBeGreaterThan(0);
        });
        return;
      }

      it('is accepted with these warnings and this native form', () => {
        const loaded = load(e);
        expect(loaded.format).toBe(e.format);
        expect(loaded.warnings.map(formatManifestProblem)).toEqual(e.warnings ?? []);
        expect(serializeManifest(loaded.manifest)).toBe(read(e.native ?? ''));
      });

      it('round-trips: its native form validates to the same manifest and plans identically', () => {
        const loaded = load(e);
        const again = loadManifest(serializeManifest(loaded.manifest));
        expect(again.format).toBe('native');
        expect(again.warnings.filter((w) => w.severity === 'error')).toEqual([]);
        expect(again.manifest).toEqual(loaded.manifest);
        expect(planDeployment(again.manifest)).toEqual(planDeployment(loaded.manifest));
        // And once more: the native form is a fixed point.
        expect(serializeManifest(again.manifest)).toBe(serializeManifest(loaded.manifest));
      });
    });
  }
});

describe('--print-native round-trips the other valid manifests too', () => {
  const VALID = join(import.meta.dirname, '../../fixtures/manifests/valid');
  const files = [
    ...readdirSync(VALID)
      .filter((f) => f.endsWith('.yml'))
      .map((f) => join(VALID, f)),
    join(import.meta.dirname, '../../../examples/demo.yml'),
  ];
  for (const f of files) {
    it(f.split('/').slice(-2).join('/'), () => {
      const loaded = loadManifest(readFileSync(f, 'utf8'));
      const again = loadManifest(serializeManifest(loaded.manifest));
      expect(again.manifest).toEqual(loaded.manifest);
      expect(planDeployment(again.manifest)).toEqual(planDeployment(loaded.manifest));
    });
  }
});
