/**
 * The slice of the Docker Engine API the agent uses (CONVENTIONS #13): containers, images, the
 * event stream and a ping. `dockerode-engine.ts` is the only production implementation;
 * `fake-engine.ts` is an in-memory engine for unit tests of the supervisors.
 */
import type { DockerCreateBody } from '../../common/contracts/instance-spec.js';

/** What the agent needs to know about one container (from Engine "inspect"). */
export interface EngineContainer {
  id: string;
  name: string;
  labels: Record<string, string>;
  running: boolean;
  /** Pid of the container's main process on the VM; 0 when not running. */
  pid: number;
  /** Epoch ms of the last start; 0 when it was never started. */
  startedAtMs: number;
  exitCode: number;
  /** Health check status; absent when the container has no health check. */
  health?: 'healthy' | 'unhealthy' | 'starting';
}

export interface EngineContainerSummary {
  id: string;
  labels: Record<string, string>;
}

/** The Engine API create body plus the name, image and labels the agent adds. */
export interface EngineCreateBody extends DockerCreateBody {
  name: string;
  Image: string;
  Labels: Record<string, string>;
}

export interface EngineEvent {
  action: 'die' | 'start' | 'healthy' | 'unhealthy' | 'destroy';
  id: string;
  /** The container's labels (the agent finds its own by `io.bosun.container`). */
  labels: Record<string, string>;
  exitCode?: number;
  timeMs: number;
}

export interface EngineEventHandlers {
  onEvent(e: EngineEvent): void;
  /** The stream ended (dockerd stopped or the connection broke). */
  onEnd(): void;
}

export interface EngineSubscription {
  close(): void;
}

export interface ContainerStats {
  cpuPercent: number;
  memoryBytes: number;
}

/** An Engine call that failed; `statusCode` is the Engine API's HTTP status where there was one. */
export class EngineError extends Error {
  constructor(
    message: string,
    readonly statusCode?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'EngineError';
  }
}

export function engineStatusOf(err: unknown): number | undefined {
  const s = (err as { statusCode?: unknown } | null)?.statusCode;
  return typeof s === 'number' ? s : undefined;
}

export interface DockerEngine {
  ping(): Promise<void>;
  /** Every container (running or not) that carries the label `label`. */
  listContainers(label: string): Promise<EngineContainerSummary[]>;
  /** null when there is no such container. */
  inspectContainer(nameOrId: string): Promise<EngineContainer | null>;
  /** Returns the new container's id. */
  createContainer(body: EngineCreateBody): Promise<string>;
  /** Starting a running container is not an error. */
  startContainer(nameOrId: string): Promise<void>;
  /** Stop signal, then SIGKILL after `timeoutS`; an absent or stopped container is not an error. */
  stopContainer(nameOrId: string, timeoutS: number): Promise<void>;
  removeContainer(nameOrId: string): Promise<void>;
  /** The last `lines` lines of stdout and stderr as text; EngineError 404 when there is no such container. */
  containerLogs(nameOrId: string, lines: number): Promise<string>;
  containerStats(nameOrId: string): Promise<ContainerStats>;
  imageExists(ref: string): Promise<boolean>;
  pullImage(ref: string): Promise<void>;
  /** Builds `tag` from a build context holding only `dockerfile`. */
  buildImage(tag: string, dockerfile: string): Promise<void>;
  /** Container events of containers carrying `label`; rejects when dockerd cannot be reached. */
  subscribeEvents(label: string, handlers: EngineEventHandlers): Promise<EngineSubscription>;
}
