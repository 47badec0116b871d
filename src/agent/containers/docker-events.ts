import { CONTAINER_LABELS } from '../../common/contracts/instance-spec.js';
import type { Logger } from '../../common/logger.js';
import { errorMessage } from '../../common/errors.js';
import type { DockerEngine, EngineSubscription } from '../docker-engine/docker-engine.js';

export interface DockerEvent {
  action: 'die' | 'healthy' | 'unhealthy' | 'start' | 'destroy';
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
  private subscription: EngineSubscription | null = null;
  private closed = false;
  private connecting = false;

  constructor(
    private readonly engine: () => DockerEngine,
    private readonly log: Logger,
    private readonly onEvent: (e: DockerEvent) => void,
    private readonly onReconnected: () => void,
    private readonly isDockerUp: () => boolean,
  ) {}

  connect(): void {
    if (this.closed || this.connecting || this.subscription) return;
    this.connecting = true;
    let mine: EngineSubscription | null = null;
    let ended = false;
    this.engine()
      .subscribeEvents(CONTAINER_LABELS.container, {
        onEvent: (e) => {
          const container = e.labels[CONTAINER_LABELS.container];
          if (!container) return;
          const ev: DockerEvent = { action: e.action, id: e.id, container, timeMs: e.timeMs };
          if (e.exitCode !== undefined) ev.exitCode = e.exitCode;
          this.onEvent(ev);
        },
        onEnd: () => {
          ended = true;
          if (!mine || this.subscription !== mine) return;
          this.subscription = null;
          this.scheduleReconnect();
        },
      })
      .then(
        (subscription) => {
          this.connecting = false;
          if (this.closed) {
            subscription.close();
            return;
          }
          mine = subscription;
          if (ended) {
            this.scheduleReconnect();
            return;
          }
          this.subscription = subscription;
          this.log.debug('listening to Docker events');
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
    this.subscription?.close();
    this.subscription = null;
  }

  private scheduleReconnect(): void {
    if (this.closed) return;
    setTimeout(() => {
      if (this.isDockerUp()) this.connect();
      else this.scheduleReconnect();
    }, RECONNECT_MS).unref();
  }
}
