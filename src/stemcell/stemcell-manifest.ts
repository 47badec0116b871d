/**
 * `stemcell.MF`, the manifest at the top of a BOSH stemcell tarball: what the stemcell is (name,
 * version, operating system), which formats its image comes in, and the sha1 of the image, so that
 * a director can check what it was given before it hands the image to a cloud.
 */
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { z } from 'zod';
import { InvalidInputError } from '../common/errors.js';

export interface StemcellManifest {
  name: string;
  version: string;
  /** Stemcell API version (BOSH's `api_version`): 3 means the agent reads settings as BOSH's v3 stemcells do. */
  apiVersion: number;
  /** Always 1, kept for BOSH tooling that still reads it. */
  boshProtocol: number;
  operatingSystem: string;
  stemcellFormats: string[];
  cloudProperties: Record<string, unknown>;
  /** Lower-case hex sha1 of the `image` file in the tarball. */
  sha1: string;
}

const schema = z.object({
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'must be letters, digits, ".", "_" or "-"'),
  version: z.union([z.string(), z.number()]).transform(String).pipe(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9.+_-]*$/, 'must be letters, digits, ".", "+", "_" or "-"')),
  api_version: z.number().int().positive().default(1),
  bosh_protocol: z.union([z.number(), z.string()]).transform(Number).default(1),
  operating_system: z.string().min(1),
  stemcell_formats: z.array(z.string().min(1)).default([]),
  cloud_properties: z.record(z.string(), z.unknown()).default({}),
  sha1: z.string().regex(/^(sha1:)?[0-9a-fA-F]{40}$/, 'must be the 40 hex digits of the image sha1'),
});

export function parseStemcellManifest(text: string, where = 'stemcell.MF'): StemcellManifest {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new InvalidInputError(`${where} is not valid YAML: ${(err as Error).message}`, { cause: err });
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(top)'}: ${i.message}`).join('; ');
    throw new InvalidInputError(`${where} is not a valid stemcell manifest: ${problems}.`);
  }
  const m = parsed.data;
  return {
    name: m.name,
    version: m.version,
    apiVersion: m.api_version,
    boshProtocol: m.bosh_protocol,
    operatingSystem: m.operating_system,
    stemcellFormats: m.stemcell_formats,
    cloudProperties: m.cloud_properties,
    sha1: m.sha1.replace(/^sha1:/, '').toLowerCase(),
  };
}

export function serializeStemcellManifest(m: StemcellManifest): string {
  return stringifyYaml({
    name: m.name,
    version: m.version,
    bosh_protocol: m.boshProtocol,
    api_version: m.apiVersion,
    sha1: m.sha1,
    operating_system: m.operatingSystem,
    stemcell_formats: m.stemcellFormats,
    cloud_properties: m.cloudProperties,
  });
}

/**
 * Orders stemcell versions as BOSH does for `latest`: dot- and dash-separated parts compared
 * numerically where both are numbers, as text otherwise ("1.10" > "1.9", "0.1.0-20260101" > "0.1.0").
 */
export function compareStemcellVersions(a: string, b: string): number {
  const pa = a.split(/[.\-+_]/);
  const pb = b.split(/[.\-+_]/);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i];
    const y = pb[i];
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    const nx = /^\d+$/.test(x) ? Number(x) : NaN;
    const ny = /^\d+$/.test(y) ? Number(y) : NaN;
    const c = !Number.isNaN(nx) && !Number.isNaN(ny) ? nx - ny : x.localeCompare(y);
    if (c !== 0) return c < 0 ? -1 : 1;
  }
  return 0;
}
