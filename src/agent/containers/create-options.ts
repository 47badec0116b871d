import { join } from 'node:path';
import { CONTAINER_LABELS, type ContainerSpec, type InstanceSpec } from '../../common/contracts/instance-spec.js';
import type { EngineCreateBody } from '../docker-engine/docker-engine.js';

/** The host directory of a mount: `store` paths live on the persistent disk. */
export function mountSourcePath(storeDir: string, source: ContainerSpec['mounts'][number]['source']): string {
  return source.kind === 'store' ? join(storeDir, source.path) : source.path;
}

/** The Engine API create body for a container: the spec's body plus bosun's labels and binds. */
export function createOptions(instance: InstanceSpec, c: ContainerSpec, storeDir: string): EngineCreateBody {
  const binds = c.mounts.map((m) => `${mountSourcePath(storeDir, m.source)}:${m.target}${m.readOnly ? ':ro' : ''}`);
  const labels: Record<string, string> = {
    ...(c.create.Labels ?? {}),
    [CONTAINER_LABELS.deployment]: instance.deployment,
    [CONTAINER_LABELS.group]: instance.group,
    [CONTAINER_LABELS.index]: String(instance.index),
    [CONTAINER_LABELS.container]: c.name,
    [CONTAINER_LABELS.specHash]: c.specHash,
  };
  const hostConfig = { ...c.create.HostConfig, Binds: [...binds] };
  return { ...c.create, name: c.name, Image: c.image, Labels: labels, HostConfig: hostConfig };
}
