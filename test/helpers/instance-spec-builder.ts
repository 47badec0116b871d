/**
 * Builds InstanceSpecs for agent tests without the manifest planner: enough of the plan's output
 * (hashes, create bodies, mounts) to exercise apply, replacement and healing.
 */
import { createHash } from 'node:crypto';
import type { ContainerSpec, DockerCreateBody, InstanceSpec } from '../../src/common/contracts/instance-spec.js';

export interface TestContainer {
  name: string;
  image?: string;
  cmd?: string[];
  entrypoint?: string[];
  env?: Record<string, string>;
  /** "hostPort:containerPort" */
  ports?: string[];
  dependsOn?: string[];
  /** Container paths kept on the persistent disk under containers/<name>/<path>. */
  storeVolumes?: string[];
  dockerfile?: string;
  healthcheck?: { test: string[]; intervalMs: number; timeoutMs?: number; retries?: number };
  stopTimeoutS?: number;
  restartPolicy?: string;
  /** The manifest's `restart` for bosun's agent: always | on-failure | on-failure:N | no. */
  restart?: string;
}

const sha = (v: unknown): string => createHash('sha256').update(typeof v === 'string' ? v : JSON.stringify(v)).digest('hex');

export function buildContainer(c: TestContainer): ContainerSpec {
  const create: DockerCreateBody = { HostConfig: {} };
  if (c.cmd) create.Cmd = c.cmd;
  if (c.entrypoint) create.Entrypoint = c.entrypoint;
  if (c.env) create.Env = Object.entries(c.env).map(([k, v]) => `${k}=${v}`);
  if (c.stopTimeoutS !== undefined) create.StopTimeout = c.stopTimeoutS;
  if (c.ports && c.ports.length > 0) {
    create.ExposedPorts = {};
    create.HostConfig.PortBindings = {};
    for (const p of c.ports) {
      const [host, inner] = p.split(':') as [string, string];
      create.ExposedPorts[`${inner}/tcp`] = {};
      create.HostConfig.PortBindings[`${inner}/tcp`] = [{ HostPort: host }];
    }
  }
  if (c.healthcheck) {
    create.Healthcheck = {
      Test: c.healthcheck.test,
      Interval: c.healthcheck.intervalMs * 1e6,
      Timeout: (c.healthcheck.timeoutMs ?? 1000) * 1e6,
      Retries: c.healthcheck.retries ?? 1,
      StartPeriod: 0,
    };
  }
  if (c.restartPolicy) create.HostConfig.RestartPolicy = { Name: c.restartPolicy };
  let image = c.image ?? 'busybox:latest';
  const spec: Omit<ContainerSpec, 'specHash'> = {
    name: c.name,
    image,
    dependsOn: c.dependsOn ?? [],
    mounts: (c.storeVolumes ?? []).map((p) => ({ source: { kind: 'store' as const, path: `containers/${c.name}${p}` }, target: p, readOnly: false })),
    create,
  };
  if (c.restart) {
    const [policy, max] = c.restart.split(':') as [ContainerSpec['restartPolicy'] & string, string | undefined];
    spec.restartPolicy = policy;
    if (max !== undefined) spec.restartMaxRetries = Number(max);
  }
  if (c.dockerfile) {
    const hash = sha(c.dockerfile);
    image = `${image.split(':')[0] ?? image}:latest-${hash.slice(0, 12)}`;
    spec.image = image;
    spec.build = { dockerfile: c.dockerfile, hash };
  }
  return { ...spec, specHash: sha(spec) };
}

export function buildSpec(containers: TestContainer[], deployment = 'test'): InstanceSpec {
  const cs = containers.map(buildContainer);
  const spec: Omit<InstanceSpec, 'specHash'> = {
    deployment,
    group: 'g',
    index: 0,
    instanceId: 'inst-0',
    persistentDiskMiB: 0,
    docker: { insecureRegistries: [], registryMirrors: [], logOptions: {}, dns: [], labels: [], debug: false, liveRestore: false, extraArgs: [] },
    containers: cs,
  };
  return { ...spec, specHash: sha(spec) };
}

/** A busybox command serving HTTP on `port` that exits promptly on SIGTERM (PID 1 ignores it otherwise). */
export function httpServerCmd(port: number, extra = ''): string[] {
  return ['sh', '-c', `${extra}trap 'exit 0' TERM; mkdir -p /www; echo ok > /www/index.html; httpd -f -p ${port} -h /www & wait`];
}
