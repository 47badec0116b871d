import { describe, expect, it } from 'vitest';
import { diffManifests, loadManifest, REDACTED, type NativeManifest } from '../../../src/manifest/index.js';

const BASE = `name: demo
update: {canaries: 1, max_in_flight: 1}
instance_groups:
  - name: vm
    instances: 2
    persistent_disk: 1024
    containers:
      - name: redis
        image: redis:7
        memory: 256m
        env:
          EXAMPLE_VAR: "1"
          DB_PASSWORD: hunter2
      - name: web
        image: busybox:latest
        depends_on: [redis]
`;

const load = (text: string): NativeManifest => loadManifest(text).manifest;
const base = load(BASE);

function edit(fn: (m: NativeManifest) => void): NativeManifest {
  const m = structuredClone(base);
  fn(m);
  return m;
}

describe('diffManifests', () => {
  it('reports no changes for the same manifest', () => {
    const d = diffManifests(base, load(BASE), {});
    expect(d.changes).toEqual([]);
    expect(d.text).toContain('no changes');
    expect(d.deployment).toBe('demo');
  });

  it('creates every VM of a new deployment', () => {
    const d = diffManifests(null, base, {});
    expect(d.changes.map((c) => [c.kind, c.subject])).toEqual([
      ['create_vm', 'vm/0'],
      ['create_vm', 'vm/1'],
    ]);
  });

  it('reports an env change as change_container with its key, per instance', () => {
    const d = diffManifests(
      base,
      edit((m) => (m.instance_groups[0]!.containers[0]!.env = { EXAMPLE_VAR: '2', DB_PASSWORD: 'hunter2' })),
      {},
    );
    expect(d.changes).toEqual([
      { subject: 'vm/0', kind: 'change_container', summary: 'change container "redis": env', keys: ['env'] },
      { subject: 'vm/1', kind: 'change_container', summary: 'change container "redis": env', keys: ['env'] },
    ]);
    expect(d.text).toContain('env EXAMPLE_VAR: "1" → "2"');
  });

  it('redacts secret-looking values unless showSecrets', () => {
    const after = edit(
      (m) => (m.instance_groups[0]!.containers[0]!.env = { EXAMPLE_VAR: '1', DB_PASSWORD: 'correct-horse' }),
    );
    const hidden = diffManifests(base, after, {});
    expect(hidden.text).toContain(`env DB_PASSWORD: ${REDACTED} → ${REDACTED}`);
    expect(hidden.text).not.toContain('hunter2');
    expect(hidden.text).not.toContain('correct-horse');
    const shown = diffManifests(base, after, { showSecrets: true });
    expect(shown.text).toContain('env DB_PASSWORD: "hunter2" → "correct-horse"');
  });

  it('redacts every secret name the redaction module knows: CREDENTIAL, lower case', () => {
    const after = edit(
      (m) => (m.instance_groups[0]!.containers[0]!.env = { EXAMPLE_VAR: '1', AWS_CREDENTIALS: 'aws-c', api_key: 'k-1' }),
    );
    const hidden = diffManifests(base, after, {});
    expect(hidden.text).not.toMatch(/aws-c|k-1/);
    expect(hidden.text).toContain(`env AWS_CREDENTIALS: (unset) → ${REDACTED}`);
  });

  it('scales up and down', () => {
    const up = diffManifests(
      base,
      edit((m) => (m.instance_groups[0]!.instances = 3)),
      {},
    );
    expect(up.changes.map((c) => [c.kind, c.subject])).toEqual([['create_vm', 'vm/2']]);
    const down = diffManifests(
      base,
      edit((m) => (m.instance_groups[0]!.instances = 1)),
      {},
    );
    expect(down.changes.map((c) => [c.kind, c.subject])).toEqual([['delete_vm', 'vm/1']]);
  });

  it('reports disk size changes, with a warning when a disk shrinks', () => {
    const grow = diffManifests(
      base,
      edit((m) => (m.instance_groups[0]!.persistent_disk = 2048)),
      {},
    );
    expect(grow.changes.map((c) => [c.kind, c.subject, c.summary])).toEqual([
      ['disk_size', 'vm/0', 'persistent disk 1024 MiB → 2048 MiB'],
      ['disk_size', 'vm/1', 'persistent disk 1024 MiB → 2048 MiB'],
    ]);
    expect(grow.warnings).toEqual([]);
    const shrink = diffManifests(
      base,
      edit((m) => (m.instance_groups[0]!.persistent_disk = 512)),
      {},
    );
    expect(shrink.warnings.length).toBe(2);
  });

  it('reports added and removed containers, removed groups and update policy changes', () => {
    const d = diffManifests(
      base,
      edit((m) => {
        m.update = { canaries: 1, max_in_flight: '50%' };
        const g = m.instance_groups[0]!;
        g.containers = [g.containers[0]!, { name: 'notes', image: 'busybox:latest' }];
      }),
      {},
    );
    expect(d.changes.map((c) => [c.kind, c.subject, c.summary])).toEqual([
      ['update', 'demo', 'update policy changed: maxInFlight'],
      ['add_container', 'vm/0', 'add container "notes" (busybox:latest)'],
      ['remove_container', 'vm/0', 'remove container "web"'],
      ['add_container', 'vm/1', 'add container "notes" (busybox:latest)'],
      ['remove_container', 'vm/1', 'remove container "web"'],
    ]);
    const gone = diffManifests(
      base,
      edit((m) => (m.instance_groups = [])),
      {},
    );
    expect(gone.changes.map((c) => c.kind)).toEqual(['delete_vm', 'delete_vm']);
  });
});
