/**
 * What an update of the cloud config changes, entry by entry: `+ vm_types/large`,
 * `- azs/z3`, `~ networks/default: subnets`. Used by `bosun update-cloud-config` before it asks.
 */
import type { DiffChange } from '../common/contracts/api.js';
import { canonicalJson } from './canonical-json.js';
import type { CloudConfig } from './cloud-config.js';

const SECTIONS = ['azs', 'vm_types', 'vm_extensions', 'disk_types', 'networks'] as const;

export interface CloudConfigDiff {
  changes: DiffChange[];
  text: string;
}

export function diffCloudConfigs(before: CloudConfig | null, after: CloudConfig): CloudConfigDiff {
  const changes: DiffChange[] = [];
  const lines: string[] = [];
  for (const section of SECTIONS) {
    const old = new Map<string, Record<string, unknown>>((before?.[section] ?? []).map((e) => [e.name, e as Record<string, unknown>]));
    for (const e of (after[section] ?? []) as Array<Record<string, unknown> & { name: string }>) {
      const subject = `${section}/${e.name}`;
      const was = old.get(e.name);
      old.delete(e.name);
      if (was === undefined) {
        changes.push({ subject, kind: 'other', summary: 'added' });
        lines.push(`+ ${subject}`);
        continue;
      }
      const keys = [...new Set([...Object.keys(was), ...Object.keys(e)])].filter((k) => canonicalJson(was[k] ?? null) !== canonicalJson(e[k] ?? null));
      if (keys.length === 0) continue;
      changes.push({ subject, kind: 'other', summary: `changed: ${keys.join(', ')}`, keys });
      lines.push(`~ ${subject}: ${keys.join(', ')}`);
      for (const k of keys) lines.push(`    ${k}: ${canonicalJson(was[k] ?? null)} → ${canonicalJson(e[k] ?? null)}`);
    }
    for (const name of old.keys()) {
      changes.push({ subject: `${section}/${name}`, kind: 'other', summary: 'removed' });
      lines.push(`- ${section}/${name}`);
    }
  }
  return { changes, text: lines.join('\n') };
}
