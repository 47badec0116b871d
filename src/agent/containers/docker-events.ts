import type Docker from 'dockerode';
import { CONTAINER_LABELS } from '../../common/contracts/instance-spec.js';
import type { Logger } from '../../common/logger.js';
import { errorMessage } from '../../common/errors.js';

export interface DockerEvent {
  action: 'die' | 'healthy' | 'unhealthy' | 'start' | 'destroy' | 'other';
  id: string;
  container: string;
  exitCode?: number;
  timeMs: number;
}

const RECONNECT_MS = 200;

/**
 * Docker's event stream for bosun's containers. The agent never polls for deaths: it listens, and
 * reconnects when the stream ends (dockerd restarted); after a reconnect it asks for a heal,
 * because events may have been missed meanwhile.
 */
export class DockerEventStream {
  private stream: NodeJS.ReadableStream | null = null;
  private closed = false;
  private connecting = false;

  constructor(
    private readonly docker: () => Docker,
    private readonly log: Logger,
    private readonly onEvent: (e: DockerEvent) => void,
    private readonly onReconnected: () => void,
    private readonly isDockerUp: () => boolean,
  ) {}

  connect(): void {
    if (this.closed || this.connecting || this.stream) return;
    this.connecting = true;
    this.docker()
      .getEvents({ filters: { type: ['container'], label: [CONTAINER_LABELS.container] } })
      .then(
        (stream) => {
          this.connecting = false;
          if (this.closed) {
            (stream as unknown as { destroy?: () => void }).destroy?.();
            return;
          }
          this.stream = stream;
          this.log.debug('listening to Docker events');
          let buffered = '';
          stream.on('data', (chunk: Buffer) => {
            buffered += chunk.toString('utf8');
            let nl: number;
            while ((nl = buffered.indexOf('\n')) >= 0) {
              const line = buffered.slice(0, nl).trim();
              buffered = buffered.slice(nl + 1);
              if (line) this.dispatch(line);
            }
          });
          const ended = (): void => {
            if (this.stream !== stream) return;
            this.stream = null;
            this.scheduleReconnect();
          };
          stream.on('end', ended);
          stream.on('close', ended);
          stream.on('error', ended);
          this.onReconnected();
        },
        (err: unknown) => {
          this.connecting = false;
          this.log.debug('cannot listen to Docker events yet', { error: errorMessage(err) });
          this.scheduleReconnect();
        },
      );
  }

  close(): void {
    this.closed = true;
    (this.stream as unknown as { destroy?: () => void } | null)?.destroy?.();
    this.stream = null;
  }

  private scheduleReconnect(): void {
    if (this.closed) return;
    setTimeout(() => {
      if (this.isDockerUp()) this.connect();
      else this.scheduleReconnect();
    }, RECONNECT_MS).unref();
  }

  private dispatch(line: string): void {
    let raw: { Action?: string; id?: string; Actor?: { ID?: string; Attributes?: Record<string, string> }; timeNano?: number; time?: number };
    try {
      raw = JSON.parse(line) as typeof raw;
    } catch {
      return;
    }
    const attrs = raw.Actor?.Attributes ?? {};
    const container = attrs[CONTAINER_LABELS.container];
    if (!container) return;
    const action = raw.Action ?? '';
    const mapped: DockerEvent['action'] =
      action === 'die' ? 'die'
      : action === 'start' ? 'start'
      : action === 'destroy' ? 'destroy'
      : action.startsWith('health_status') ? (action.includes('unhealthy') ? 'unhealthy' : action.includes('healthy') ? 'healthy' : 'other')
      : 'other';
    if (mapped === 'other') return;
    const exit = attrs.exitCode === undefined ? undefined : Number.parseInt(attrs.exitCode, 10);
    const timeMs = raw.timeNano ? Math.floor(raw.timeNano / 1e6) : (raw.time ?? 0) * 1000;
    const ev: DockerEvent = { action: mapped, id: raw.Actor?.ID ?? raw.id ?? '', container, timeMs };
    if (exit !== undefined && !Number.isNaN(exit)) ev.exitCode = exit;
    this.onEvent(ev);
  }
}
