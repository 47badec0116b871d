/**
 * Director test fixtures: a tiny ManifestPort over JSON "manifests" (so director tests do not
 * depend on the manifest module), and a Director wired to the FakeCloud and SQLite :memory:
 * with one stemcell uploaded (deploys need one; addTestStemcell is the one place that gives it).
 */
import { createHash } from 'node:crypto';
import { FakeCloud } from '../../src/cloud/fake/index.js';
import type { FakeCloudOptions } from '../../src/cloud/fake/index.js';
import { InvalidManifestError } from '../../src/common/errors.js';
import type { DiffChange, DiffResponse } from '../../src/common/contracts/api.js';
import type { DirectorConfigInput } from '../../src/director/config.js';
import type { DeploymentPlan, LoadedDeploymentManifest, ManifestPort, UpdatePolicy } from '../../src/director/deploy/plan.js';
import { Director } from '../../src/director/director.js';
import type { StemcellRecord } from '../../src/store/store.js';
import type { ContainerSpec, InstanceSpec } from '../../src/common/contracts/instance-spec.js';

export interface TestContainer {
  name: string;
  image: string;
  env?: Record<string, string>;
}

export interface TestGroup {
  name: string;
  instances: number;
  /** As a manifest's stemcells entry names it; default: the newest debian-12. */
  stemcell?: { os?: string; name?: string; version?: string };
  disk?: number;
  containers: TestContainer[];
  serial?: boolean;
  maxInFlight?: number | string;
  canaries?: number;
}

export interface TestManifest {
  name: string;
  update?: Partial<UpdatePolicy>;
  groups: TestGroup[];
}

const sha = (v: unknown): string => createHash('sha256').update(JSON.stringify(v)).digest('hex');

export const FAST_UPDATE: UpdatePolicy = {
  canaries: 1,
  maxInFlight: 2,
  canaryWatchTime: { minMs: 0, maxMs: 150 },
  updateWatchTime: { minMs: 0, maxMs: 150 },
  serial: true,
};

export function manifestText(m: TestManifest): string {
  return JSON.stringify(m);
}

function containerSpec(c: TestContainer): ContainerSpec {
  const base = {
    name: c.name,
    image: c.image,
    dependsOn: [],
    mounts: [],
    create: { Env: Object.entries(c.env ?? {}).map(([k, v]) => `${k}=${v}`), HostConfig: {} },
  };
  return { ...base, specHash: sha(base) };
}

export const testManifests: ManifestPort = {
  load(text: string): LoadedDeploymentManifest {
    let m: TestManifest;
    try {
      m = JSON.parse(text) as TestManifest;
    } catch {
      throw new InvalidManifestError([{ severity: 'error', path: '', line: 1, column: 1, message: 'not JSON' }]);
    }
    if (typeof m.name !== 'string') throw new InvalidManifestError([{ severity: 'error', path: 'name', line: null, column: null, message: 'name is required' }]);
    return { name: m.name, manifest: m, warnings: [] };
  },
  plan(loaded, instanceId): DeploymentPlan {
    const m = loaded.manifest as TestManifest;
    return {
      name: m.name,
      update: { ...FAST_UPDATE, ...(m.update ?? {}) },
      groups: m.groups.map((g) => {
        const update: Partial<UpdatePolicy> = {};
        if (g.serial !== undefined) update.serial = g.serial;
        if (g.maxInFlight !== undefined) update.maxInFlight = g.maxInFlight;
        if (g.canaries !== undefined) update.canaries = g.canaries;
        return {
          name: g.name,
          persistentDiskMiB: g.disk ?? 0,
          cloudProperties: {},
          stemcell: {
            os: g.stemcell?.name === undefined ? (g.stemcell?.os ?? 'debian-12') : null,
            name: g.stemcell?.name ?? null,
            version: g.stemcell?.version ?? 'latest',
          },
          networks: { default: { ip: '', netmask: '' } },
          update,
          instances: Array.from({ length: g.instances }, (_, index): InstanceSpec => {
            const containers = g.containers.map(containerSpec);
            const spec = {
              deployment: m.name,
              group: g.name,
              index,
              instanceId: instanceId(g.name, index),
              persistentDiskMiB: g.disk ?? 0,
              docker: { insecureRegistries: [], registryMirrors: [], logOptions: {}, dns: [], labels: [], debug: false, liveRestore: false, extraArgs: [] },
              containers,
            };
            return { ...spec, specHash: sha({ ...spec, instanceId: undefined }) };
          }),
        };
      }),
    };
  },
  diff(before, after): DiffResponse {
    const a = after.manifest as TestManifest;
    const b = before?.manifest as TestManifest | undefined;
    const changes: DiffChange[] = [];
    for (const g of a.groups) {
      const old = b?.groups.find((x) => x.name === g.name);
      if (old === undefined) changes.push({ subject: g.name, kind: 'create_vm', summary: `add ${g.name}` });
      else if (JSON.stringify(old) !== JSON.stringify(g)) changes.push({ subject: g.name, kind: 'other', summary: `change ${g.name}` });
    }
    for (const g of b?.groups ?? []) if (!a.groups.some((x) => x.name === g.name)) changes.push({ subject: g.name, kind: 'delete_vm', summary: `remove ${g.name}` });
    return { deployment: a.name, changes, text: changes.map((c) => c.summary).join('\n'), warnings: [] };
  },
};

export interface TestDirector {
  director: Director;
  cloud: FakeCloud;
  close(): Promise<void>;
}

/** The version of the stemcell every test director has uploaded. */
export const TEST_STEMCELL_VERSION = '0.1.0-test';

/**
 * Records an uploaded stemcell in the director's store, as an upload task would (the fake cloud's
 * createVm takes any stemcell cid): deploys resolve the manifest's stemcell against these.
 */
export async function addTestStemcell(
  director: Director,
  options: { version?: string; name?: string; os?: string } = {},
): Promise<StemcellRecord> {
  const version = options.version ?? TEST_STEMCELL_VERSION;
  const name = options.name ?? 'bosun-debian-12';
  return director.store.stemcells.create({
    name,
    version,
    operatingSystem: options.os ?? 'debian-12',
    apiVersion: 3,
    formats: ['general-tar', 'warden-tar'],
    sha1: '0'.repeat(40),
    cid: `sc-test-${name}-${version}`,
  });
}

export async function createTestDirector(
  options: {
    cloud?: FakeCloudOptions;
    config?: Partial<DirectorConfigInput>;
    databasePath?: string;
    cloudInstance?: FakeCloud;
    /** The director's health sections (see DirectorOptions.health) and whether the monitor loop runs. */
    health?: unknown;
    startHealthMonitor?: boolean;
    /** false: no stemcell uploaded (default: one, TEST_STEMCELL_VERSION). */
    stemcell?: false;
  } = {},
): Promise<TestDirector> {
  const cloud = options.cloudInstance ?? new FakeCloud({ unresponsiveTimeoutMs: 100, heartbeatIntervalMs: 60_000, ...(options.cloud ?? {}) });
  const director = await Director.create({
    config: {
      dataDir: '/nonexistent-bosun-test',
      databasePath: options.databasePath ?? ':memory:',
      directorUrl: 'https://127.0.0.1:25555',
      ca: { certPem: 'test-ca', keyPem: 'test-ca-key' },
      agentWaitTimeoutMs: 500,
      agentPingIntervalMs: 10,
      agentCallTimeoutMs: 200,
      watchPollIntervalMs: 10,
      ...(options.config ?? {}),
    },
    cloud,
    agentConnector: cloud.agentConnector,
    manifests: testManifests,
    agentCredentials: (agentId) => ({ caPem: 'test-ca', certPem: `cert-${agentId}`, keyPem: `key-${agentId}` }),
    ...(options.health === undefined ? {} : { health: options.health }),
    ...(options.startHealthMonitor === undefined ? {} : { startHealthMonitor: options.startHealthMonitor }),
  });
  // A database file reused from an earlier director has its stemcell already.
  if (options.stemcell !== false && (await director.store.stemcells.list()).length === 0) await addTestStemcell(director);
  return {
    director,
    cloud,
    close: async () => {
      await director.close();
      cloud.shutdown();
    },
  };
}

/** Deploys and waits for the task; returns the ended task. */
export async function deployAndWait(director: Director, m: TestManifest, options: { recreate?: boolean } = {}) {
  const task = await director.deploy({ manifest: manifestText(m), ...(options.recreate ? { recreate: true } : {}) }, 'admin');
  return director.tasks.wait(task.id);
}

/** The cloud methods called since `from` (index into cloud.calls), ignoring read-only ones unless asked. */
export function cloudCallsSince(cloud: FakeCloud, from: number, includeReads = false): string[] {
  const reads = new Set(['hasVm', 'getDisks', 'hasDisk', 'info', 'findDiskAttachment', 'listVms']);
  return cloud.calls.slice(from).map((c) => c.method).filter((m) => includeReads || !reads.has(m));
}
