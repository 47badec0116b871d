/**
 * BOSH's cloud config: the IaaS side of deployments, kept by the director and shared by every
 * manifest (azs, vm_types, vm_extensions, disk_types, networks; compilation is accepted and
 * ignored). Read with the manifest's YAML rules and positions; every problem at once, each with
 * its path and line, unknown keys with the nearest known key.
 */
import { z } from 'zod';
import { InvalidManifestError, type ManifestProblem } from '../common/errors.js';
import { addIssue } from './load-manifest.js';
import { nearestKey } from './nearest-key.js';
import { formatPath, ProblemList, type PathSegment } from './problems.js';
import { locate } from './yaml-positions.js';
import { readYaml } from './yaml-read.js';

const cloudProperties = z.record(z.string(), z.unknown());
const name = z.string().min(1, 'the name is empty');

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
const isIp = (v: string): boolean => {
  const m = IPV4.exec(v.trim());
  return m !== null && m.slice(1).every((o) => Number(o) <= 255);
};
const ip = z.string().refine(isIp, 'not an IPv4 address; write e.g. "10.0.0.1"');
const cidr = z.string().refine((v) => {
  const [addr, bits, ...rest] = v.trim().split('/');
  return rest.length === 0 && addr !== undefined && isIp(addr) && bits !== undefined && /^\d+$/.test(bits) && Number(bits) <= 32;
}, 'not a CIDR range; write e.g. "10.0.0.0/24"');
/** "10.0.0.5" or "10.0.0.5 - 10.0.0.9" (BOSH's reserved and static entries). */
const ipOrRange = z.string().refine((v) => v.split('-').length <= 2 && v.split('-').every((p) => isIp(p)), 'write an address ("10.0.0.5") or a range ("10.0.0.5 - 10.0.0.9")');

export const azSchema = z.strictObject({ name, cloud_properties: cloudProperties.optional() });
export const vmTypeSchema = z.strictObject({ name, cloud_properties: cloudProperties.optional() });
export const vmExtensionSchema = z.strictObject({ name, cloud_properties: cloudProperties.optional() });
export const diskTypeSchema = z.strictObject({
  name,
  disk_size: z.number().int('disk_size must be a whole number of MiB').min(1, 'disk_size must be at least 1 MiB'),
  cloud_properties: cloudProperties.optional(),
});
export const subnetSchema = z.strictObject({
  name: z.string().optional(),
  range: cidr.optional(),
  gateway: ip.optional(),
  dns: z.array(ip).optional(),
  reserved: z.array(ipOrRange).optional(),
  static: z.array(ipOrRange).optional(),
  az: z.string().optional(),
  azs: z.array(z.string()).optional(),
  cloud_properties: cloudProperties.optional(),
});
export const cloudNetworkSchema = z.strictObject({
  name,
  type: z.enum(['manual', 'dynamic', 'vip']).optional(),
  subnets: z.array(subnetSchema).optional(),
  dns: z.array(ip).optional(),
  cloud_properties: cloudProperties.optional(),
});
export const cloudConfigSchema = z.strictObject({
  azs: z.array(azSchema).optional(),
  vm_types: z.array(vmTypeSchema).optional(),
  vm_extensions: z.array(vmExtensionSchema).optional(),
  disk_types: z.array(diskTypeSchema).optional(),
  networks: z.array(cloudNetworkSchema).optional(),
  compilation: z.unknown().optional(),
});

export type CloudConfig = z.output<typeof cloudConfigSchema>;
export type CloudNetwork = z.output<typeof cloudNetworkSchema>;

export const EMPTY_CLOUD_CONFIG: CloudConfig = {};

const KNOWN: Record<string, readonly string[]> = {
  root: Object.keys(cloudConfigSchema.shape),
  azs: Object.keys(azSchema.shape),
  vm_types: Object.keys(vmTypeSchema.shape),
  vm_extensions: Object.keys(vmExtensionSchema.shape),
  disk_types: Object.keys(diskTypeSchema.shape),
  networks: Object.keys(cloudNetworkSchema.shape),
  subnets: Object.keys(subnetSchema.shape),
};

function unknownKey(key: string, at: PathSegment[]): string {
  const section = at.length === 0 ? 'root' : [...at].reverse().find((s): s is string => typeof s === 'string') ?? 'root';
  const known = KNOWN[section] ?? [];
  const best = nearestKey(key, known);
  if (best !== null) return `unknown key "${key}"; did you mean "${best}"?`;
  const where = section === 'root' ? 'the cloud config' : `an entry of ${section}`;
  return `unknown key "${key}" in ${where}; known keys are ${known.join(', ')}`;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/** Names unique per section; subnets name known azs; manual networks have range and gateway. */
function checkCloudConfig(raw: Obj, problems: ProblemList): void {
  for (const section of ['azs', 'vm_types', 'vm_extensions', 'disk_types', 'networks']) {
    const seen = new Map<string, number>();
    list(raw[section]).forEach((e, i) => {
      if (!isObj(e) || typeof e['name'] !== 'string') return;
      const first = seen.get(e['name']);
      if (first !== undefined) problems.error([section, i, 'name'], `duplicate name "${e['name']}"; ${section}[${first}] already uses it`);
      else seen.set(e['name'], i);
    });
  }
  const azs = list(raw['azs']).flatMap((a) => (isObj(a) && typeof a['name'] === 'string' ? [a['name']] : []));
  const known = azs.length === 0 ? 'the cloud config has no azs' : `azs: ${azs.map((a) => `"${a}"`).join(', ')}`;
  list(raw['networks']).forEach((n, ni) => {
    if (!isObj(n)) return;
    const type = typeof n['type'] === 'string' ? n['type'] : 'manual';
    const subnets = list(n['subnets']);
    if (type === 'manual' && subnets.length === 0) problems.error(['networks', ni], `manual network "${String(n['name'])}" has no subnets; give it subnets: [{range, gateway, ...}]`);
    if (type === 'vip' && n['subnets'] !== undefined) problems.warning(['networks', ni, 'subnets'], 'a vip network has no subnets; they are ignored', true);
    subnets.forEach((s, si) => {
      if (!isObj(s)) return;
      const at: PathSegment[] = ['networks', ni, 'subnets', si];
      if (type === 'manual') {
        if (s['range'] === undefined) problems.error(at, 'a subnet of a manual network needs range (e.g. "10.0.0.0/24")');
        if (s['gateway'] === undefined) problems.error(at, 'a subnet of a manual network needs gateway (e.g. "10.0.0.1")');
      }
      if (s['az'] !== undefined && s['azs'] !== undefined) problems.error([...at, 'azs'], 'give az or azs, not both');
      const refs: Array<[unknown, PathSegment[]]> = [[s['az'], [...at, 'az']], ...list(s['azs']).map((a, ai): [unknown, PathSegment[]] => [a, [...at, 'azs', ai]])];
      for (const [ref, path] of refs) {
        if (typeof ref === 'string' && !azs.includes(ref)) problems.error(path, `az "${ref}" is not defined (${known})`);
      }
    });
  });
  if (raw['compilation'] !== undefined) {
    problems.warning(['compilation'], 'compilation is ignored: bosun compiles no packages (releases are not compiled; containers come from images)', true);
  }
}

export interface LoadedCloudConfig {
  config: CloudConfig;
  warnings: ManifestProblem[];
}

/** Parses and validates a cloud config text; errors throw InvalidManifestError (what: "cloud config"). */
export function loadCloudConfig(text: string, options: { fileName?: string } = {}): LoadedCloudConfig {
  const fileName = options.fileName ?? 'cloud config';
  const file = readYaml(text, fileName);
  const raw = file.doc.toJS({ maxAliasCount: 1000 }) as unknown;
  const errorOptions = { what: 'cloud config', ...(options.fileName === undefined ? {} : { fileName: options.fileName }) };
  if (!isObj(raw)) {
    throw new InvalidManifestError(
      [{ severity: 'error', path: '', line: 1, column: 1, message: 'a cloud config is a map with azs, vm_types, vm_extensions, disk_types and networks' }],
      errorOptions,
    );
  }
  const problems = new ProblemList();
  const parsed = cloudConfigSchema.safeParse(raw);
  if (!parsed.success) for (const issue of parsed.error.issues) addIssue(issue, raw, problems, unknownKey);
  checkCloudConfig(raw, problems);
  const placed: ManifestProblem[] = problems.items.map((p) => {
    const pos = locate(file.doc, file.lines, p.path, p.onKey);
    return { severity: p.severity, path: formatPath(p.path), line: pos?.line ?? null, column: pos?.column ?? null, message: p.message };
  });
  placed.sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0));
  if (!parsed.success || placed.some((p) => p.severity === 'error')) throw new InvalidManifestError(placed, errorOptions);
  return { config: parsed.data, warnings: placed };
}
