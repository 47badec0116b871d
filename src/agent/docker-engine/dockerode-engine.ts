import Docker from 'dockerode';
import type { ContainerCreateOptions } from 'dockerode';
import tar from 'tar-stream';
import { demultiplexLogs } from './docker-logs.js';
import {
  EngineError,
  engineStatusOf,
  type ContainerStats,
  type DockerEngine,
  type EngineContainer,
  type EngineContainerSummary,
  type EngineCreateBody,
  type EngineEvent,
  type EngineEventHandlers,
  type EngineSubscription,
} from './docker-engine.js';

/** The Docker engine of one dockerd socket, through dockerode: the only file that imports it. */
export class DockerodeEngine implements DockerEngine {
  private readonly docker: Docker;

  constructor(socketPath: string) {
    this.docker = new Docker({ socketPath });
  }

  async ping(): Promise<void> {
    await this.docker.ping();
  }

  async listContainers(label: string): Promise<EngineContainerSummary[]> {
    const list = await this.docker.listContainers({ all: true, filters: { label: [label] } });
    return list.map((c) => ({ id: c.Id, labels: c.Labels }));
  }

  async inspectContainer(nameOrId: string): Promise<EngineContainer | null> {
    try {
      const info = await this.docker.getContainer(nameOrId).inspect();
      const started = Date.parse(info.State.StartedAt);
      const c: EngineContainer = {
        id: info.Id,
        name: info.Name.replace(/^\//, ''),
        labels: info.Config.Labels ?? {},
        running: info.State.Running,
        pid: info.State.Pid,
        // Docker reports "0001-01-01T00:00:00Z" for a container that never started.
        startedAtMs: started > 0 ? started : 0,
        exitCode: info.State.ExitCode,
      };
      const health = info.State.Health?.Status;
      if (health === 'healthy' || health === 'unhealthy' || health === 'starting') c.health = health;
      return c;
    } catch (err) {
      if (engineStatusOf(err) === 404) return null;
      throw wrap(err);
    }
  }

  async createContainer(body: EngineCreateBody): Promise<string> {
    try {
      return (await this.docker.createContainer(body as unknown as ContainerCreateOptions)).id;
    } catch (err) {
      throw wrap(err);
    }
  }

  async startContainer(nameOrId: string): Promise<void> {
    try {
      await this.docker.getContainer(nameOrId).start();
    } catch (err) {
      if (engineStatusOf(err) !== 304) throw wrap(err);
    }
  }

  async stopContainer(nameOrId: string, timeoutS: number): Promise<void> {
    try {
      await this.docker.getContainer(nameOrId).stop({ t: timeoutS });
    } catch (err) {
      const status = engineStatusOf(err);
      if (status !== 304 && status !== 404) throw wrap(err);
    }
  }

  async removeContainer(nameOrId: string): Promise<void> {
    try {
      await this.docker.getContainer(nameOrId).remove({ force: true });
    } catch (err) {
      if (engineStatusOf(err) !== 404) throw wrap(err);
    }
  }

  async containerLogs(nameOrId: string, lines: number): Promise<string> {
    try {
      const buf = (await this.docker.getContainer(nameOrId).logs({ stdout: true, stderr: true, tail: lines, follow: false })) as unknown as Buffer;
      return demultiplexLogs(Buffer.isBuffer(buf) ? buf : Buffer.from(String(buf)));
    } catch (err) {
      throw wrap(err);
    }
  }

  async containerStats(nameOrId: string): Promise<ContainerStats> {
    const st = (await this.docker.getContainer(nameOrId).stats({ stream: false })) as unknown as {
      cpu_stats?: { cpu_usage?: { total_usage?: number }; system_cpu_usage?: number; online_cpus?: number };
      precpu_stats?: { cpu_usage?: { total_usage?: number }; system_cpu_usage?: number };
      memory_stats?: { usage?: number; stats?: { cache?: number; inactive_file?: number } };
    };
    const cpuDelta = (st.cpu_stats?.cpu_usage?.total_usage ?? 0) - (st.precpu_stats?.cpu_usage?.total_usage ?? 0);
    const sysDelta = (st.cpu_stats?.system_cpu_usage ?? 0) - (st.precpu_stats?.system_cpu_usage ?? 0);
    const cpus = st.cpu_stats?.online_cpus ?? 1;
    const mem = (st.memory_stats?.usage ?? 0) - (st.memory_stats?.stats?.inactive_file ?? st.memory_stats?.stats?.cache ?? 0);
    return { cpuPercent: sysDelta > 0 ? Math.round((cpuDelta / sysDelta) * cpus * 10000) / 100 : 0, memoryBytes: Math.max(0, mem) };
  }

  async imageExists(ref: string): Promise<boolean> {
    try {
      await this.docker.getImage(ref).inspect();
      return true;
    } catch {
      return false;
    }
  }

  async pullImage(ref: string): Promise<void> {
    await this.follow(await this.docker.pull(ref));
  }

  async buildImage(tag: string, dockerfile: string): Promise<void> {
    const pack = tar.pack();
    pack.entry({ name: 'Dockerfile' }, dockerfile);
    pack.finalize();
    await this.follow(await this.docker.buildImage(pack as unknown as NodeJS.ReadableStream, { t: tag, rm: true, forcerm: true }));
  }

  async subscribeEvents(label: string, handlers: EngineEventHandlers): Promise<EngineSubscription> {
    const stream = await this.docker.getEvents({ filters: { type: ['container'], label: [label] } });
    let buffered = '';
    let ended = false;
    stream.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl).trim();
        buffered = buffered.slice(nl + 1);
        const e = line ? parseEvent(line) : null;
        if (e) handlers.onEvent(e);
      }
    });
    const end = (): void => {
      if (ended) return;
      ended = true;
      handlers.onEnd();
    };
    stream.on('end', end);
    stream.on('close', end);
    stream.on('error', end);
    return {
      close: () => {
        ended = true;
        (stream as unknown as { destroy?: () => void }).destroy?.();
      },
    };
  }

  /** Reads a pull/build progress stream to its end; an `error` line in it is a failure. */
  private follow(stream: NodeJS.ReadableStream): Promise<void> {
    return new Promise((resolve, reject) => {
      this.docker.modem.followProgress(stream, (err: Error | null, output: Array<{ error?: string; errorDetail?: { message?: string } }>) => {
        if (err) return reject(err);
        const bad = output.find((o) => o.error !== undefined || o.errorDetail !== undefined);
        if (bad) return reject(new Error(bad.errorDetail?.message ?? bad.error ?? 'unknown error'));
        resolve();
      });
    });
  }
}

function wrap(err: unknown): EngineError {
  if (err instanceof EngineError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new EngineError(message, engineStatusOf(err), { cause: err });
}

function parseEvent(line: string): EngineEvent | null {
  let raw: { Action?: string; id?: string; Actor?: { ID?: string; Attributes?: Record<string, string> }; timeNano?: number; time?: number };
  try {
    raw = JSON.parse(line) as typeof raw;
  } catch {
    return null;
  }
  const attrs = raw.Actor?.Attributes ?? {};
  const action = raw.Action ?? '';
  const mapped: EngineEvent['action'] | null =
    action === 'die' ? 'die'
    : action === 'start' ? 'start'
    : action === 'destroy' ? 'destroy'
    : action.startsWith('health_status') ? (action.includes('unhealthy') ? 'unhealthy' : action.includes('healthy') ? 'healthy' : null)
    : null;
  if (!mapped) return null;
  const exit = attrs.exitCode === undefined ? undefined : Number.parseInt(attrs.exitCode, 10);
  const timeMs = raw.timeNano ? Math.floor(raw.timeNano / 1e6) : (raw.time ?? 0) * 1000;
  const ev: EngineEvent = { action: mapped, id: raw.Actor?.ID ?? raw.id ?? '', labels: attrs, timeMs };
  if (exit !== undefined && !Number.isNaN(exit)) ev.exitCode = exit;
  return ev;
}
