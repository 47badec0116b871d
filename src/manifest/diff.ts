/**
 * What a deploy would change, per instance: VMs to create or delete, containers added, removed
 * or changed (and which keys), disk sizes, the update policy. Secret-looking environment values
 * are shown as "<redacted>" unless asked otherwise.
 */
import type { DiffChange, DiffResponse } from '../common/contracts/api.js';
import { canonicalJson } from './canonical-json.js';
import { environmentOf } from './container-spec.js';
import { dockerDaemonSpecOf, persistentDiskOf, updatePolicyOf } from './plan.js';
import type { NativeContainer, NativeInstanceGroup, NativeManifest } from './schema.js';

// One definition of a secret name for the whole system (adds CREDENTIAL to what the diff knew).
import { REDACTED, isSecretName } from '../common/redact.js';
export { REDACTED, isSecretName };

export interface DiffOptions {
  showSecrets?: boolean;
}

const same = (a: unknown, b: unknown): boolean => canonicalJson(a) === canonicalJson(b);
const show = (v: unknown): string =>
  v === undefined ? '(unset)' : typeof v === 'string' ? JSON.stringify(v) : canonicalJson(v);

export function diffManifests(
  before: NativeManifest | null,
  after: NativeManifest,
  options: DiffOptions = {},
): DiffResponse {
  const showSecrets = options.showSecrets ?? false;
  const changes: DiffChange[] = [];
  const lines: string[] = [];
  const warnings: string[] = [];
  const add = (change: DiffChange, sign: '+' | '-' | '~', details: string[] = []): void => {
    changes.push(change);
    lines.push(`${sign} ${change.subject}: ${change.summary}`, ...details.map((d) => `    ${d}`));
  };

  if (before) {
    const u0 = updatePolicyOf(before);
    const u1 = updatePolicyOf(after);
    const keys = (Object.keys(u1) as Array<keyof typeof u1>).filter((k) => !same(u0[k], u1[k]));
    if (keys.length > 0) {
      add(
        { subject: after.name, kind: 'update', summary: `update policy changed: ${keys.join(', ')}`, keys },
        '~',
        keys.map((k) => `${k}: ${show(u0[k])} → ${show(u1[k])}`),
      );
    }
  }

  if (!same(before?.dns_aliases ?? {}, after.dns_aliases ?? {})) {
    const a0 = before?.dns_aliases ?? {};
    const a1 = after.dns_aliases ?? {};
    const keys = [...new Set([...Object.keys(a0), ...Object.keys(a1)])].filter((k) => a0[k] !== a1[k]).sort();
    add(
      { subject: after.name, kind: 'other', summary: `dns_aliases changed: ${keys.join(', ')}`, keys },
      '~',
      keys.map((k) => `${k}: ${a0[k] ?? '(none)'} → ${a1[k] ?? '(none)'}`),
    );
  }

  const oldGroups = new Map((before?.instance_groups ?? []).map((g) => [g.name, g]));
  for (const g of after.instance_groups) {
    const old = oldGroups.get(g.name);
    oldGroups.delete(g.name);
    const from = old?.instances ?? 0;
    for (let i = 0; i < Math.max(from, g.instances); i++) {
      const subject = `${g.name}/${i}`;
      if (i >= from) {
        const names = g.containers.map((c) => c.name);
        add(
          {
            subject,
            kind: 'create_vm',
            summary: `create VM${names.length ? ` with containers ${names.join(', ')}` : ''}`,
          },
          '+',
        );
      } else if (i >= g.instances) {
        add(
          { subject, kind: 'delete_vm', summary: 'delete VM (its persistent disk is orphaned, not deleted)' },
          '-',
        );
      } else if (old) {
        diffInstance(subject, old, g, showSecrets, add, warnings);
      }
    }
  }
  for (const g of oldGroups.values()) {
    for (let i = 0; i < g.instances; i++)
      add(
        {
          subject: `${g.name}/${i}`,
          kind: 'delete_vm',
          summary: `delete VM (instance group "${g.name}" was removed)`,
        },
        '-',
      );
  }
  const text =
    changes.length === 0
      ? `deployment ${after.name}: no changes`
      : [`deployment ${after.name}:`, ...lines].join('\n');
  return { deployment: after.name, changes, text, warnings };
}

type AddFn = (change: DiffChange, sign: '+' | '-' | '~', details?: string[]) => void;

function diffInstance(
  subject: string,
  old: NativeInstanceGroup,
  g: NativeInstanceGroup,
  showSecrets: boolean,
  add: AddFn,
  warnings: string[],
): void {
  const d0 = persistentDiskOf(old);
  const d1 = persistentDiskOf(g);
  // A disk type's size is the cloud config's: the manifest alone cannot say what it is.
  const typed = old.persistent_disk_type !== undefined || g.persistent_disk_type !== undefined;
  const diskLabel = (x: NativeInstanceGroup, d: { sizeMiB: number }): string =>
    x.persistent_disk_type === undefined ? `${d.sizeMiB} MiB` : `of disk type "${x.persistent_disk_type}" (its size is the cloud config's)`;
  if (typed) {
    if (old.persistent_disk_type !== g.persistent_disk_type || (d0.sizeMiB !== d1.sizeMiB && g.persistent_disk_type === undefined))
      add({ subject, kind: 'disk_size', summary: `persistent disk ${diskLabel(old, d0)} → ${diskLabel(g, d1)}` }, '~');
  } else if (d0.sizeMiB !== d1.sizeMiB) {
    add(
      { subject, kind: 'disk_size', summary: `persistent disk ${d0.sizeMiB} MiB → ${d1.sizeMiB} MiB` },
      '~',
    );
    if (d1.sizeMiB < d0.sizeMiB && d1.sizeMiB > 0)
      warnings.push(
        `${subject}: the persistent disk shrinks from ${d0.sizeMiB} to ${d1.sizeMiB} MiB; its data must fit in the new size`,
      );
    if (d1.sizeMiB === 0)
      warnings.push(`${subject}: the persistent disk is removed; its data will no longer be mounted`);
  }
  const vmKeys = (['vm_type', 'cloud_properties', 'networks'] as const).filter((k) => !same(old[k], g[k]));
  if (!same(d0.cloudProperties, d1.cloudProperties)) vmKeys.push('persistent_disk' as never);
  if (vmKeys.length > 0)
    add(
      {
        subject,
        kind: 'other',
        summary: `VM settings changed: ${vmKeys.join(', ')} (the VM is recreated)`,
        keys: vmKeys,
      },
      '~',
    );
  if (!same(dockerDaemonSpecOf(old.docker), dockerDaemonSpecOf(g.docker))) {
    add(
      {
        subject,
        kind: 'other',
        summary: 'docker daemon options changed (dockerd is restarted)',
        keys: ['docker'],
      },
      '~',
    );
  }

  const oldContainers = new Map(old.containers.map((c) => [c.name, c]));
  for (const c of g.containers) {
    const prev = oldContainers.get(c.name);
    oldContainers.delete(c.name);
    if (!prev) {
      add({ subject, kind: 'add_container', summary: `add container "${c.name}" (${c.image})` }, '+');
      continue;
    }
    const keys = [...new Set([...Object.keys(prev), ...Object.keys(c)])]
      .filter((k) => !same(prev[k as keyof NativeContainer], c[k as keyof NativeContainer]))
      .sort();
    if (keys.length > 0) {
      add(
        {
          subject,
          kind: 'change_container',
          summary: `change container "${c.name}": ${keys.join(', ')}`,
          keys,
        },
        '~',
        containerDetails(prev, c, keys, showSecrets),
      );
    }
  }
  for (const c of oldContainers.values())
    add({ subject, kind: 'remove_container', summary: `remove container "${c.name}"` }, '-');
}

const ENV_KEYS = new Set(['env', 'env_vars', 'env_file']);

function containerDetails(
  prev: NativeContainer,
  c: NativeContainer,
  keys: string[],
  showSecrets: boolean,
): string[] {
  const out: string[] = [];
  if (keys.some((k) => ENV_KEYS.has(k))) {
    const e0 = new Map(environmentOf(prev));
    const e1 = new Map(environmentOf(c));
    for (const name of [...new Set([...e0.keys(), ...e1.keys()])].sort()) {
      const a = e0.get(name);
      const b = e1.get(name);
      if (a === b) continue;
      const hide = !showSecrets && isSecretName(name);
      const fmt = (v: string | undefined): string =>
        v === undefined ? '(unset)' : hide ? REDACTED : JSON.stringify(v);
      out.push(`env ${name}: ${fmt(a)} → ${fmt(b)}`);
    }
  }
  for (const k of keys) {
    if (ENV_KEYS.has(k)) continue;
    out.push(`${k}: ${show(prev[k as keyof NativeContainer])} → ${show(c[k as keyof NativeContainer])}`);
  }
  return out;
}
