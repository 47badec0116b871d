import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { DirectorService } from '../director-service.js';
import type { TaskState } from '../../common/contracts/api.js';

const TASK_STATES: TaskState[] = ['queued', 'processing', 'done', 'error', 'cancelling', 'cancelled'];
/** How many recent tasks the task gauge looks at: enough for a picture, cheap enough per scrape. */
const TASK_WINDOW = 1000;

/**
 * The director's Prometheus metrics. One registry per server (not prom-client's global one), so
 * that tests can run several servers in one process. Gauges read the director at scrape time.
 */
export class ApiMetrics {
  readonly registry = new Registry();
  readonly httpDuration: Histogram<'method' | 'route' | 'status'>;
  readonly heartbeats: Counter<'job_state'>;
  readonly agentAlerts: Counter<'category'>;

  constructor(director: DirectorService) {
    const registers = [this.registry];
    this.httpDuration = new Histogram({
      name: 'bosun_http_request_duration_seconds',
      help: 'Duration of HTTP requests to the director API, by route pattern',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
      registers,
    });
    this.heartbeats = new Counter({
      name: 'bosun_agent_heartbeats_total',
      help: 'Heartbeats received from agents, by reported job state',
      labelNames: ['job_state'],
      registers,
    });
    this.agentAlerts = new Counter({
      name: 'bosun_agent_alerts_total',
      help: 'Alerts received from agents, by category',
      labelNames: ['category'],
      registers,
    });
    const tasks: Gauge<'state'> = new Gauge({
      name: 'bosun_tasks',
      help: `Tasks by state (among the ${TASK_WINDOW} most recent)`,
      labelNames: ['state'],
      registers,
      collect: async () => {
        const list = await director.listTasks({ recent: TASK_WINDOW }).catch(() => null);
        if (!list) return;
        for (const state of TASK_STATES) tasks.set({ state }, list.filter((t) => t.state === state).length);
      },
    });
    const deployments: Gauge = new Gauge({
      name: 'bosun_deployments',
      help: 'Deployments known to the director',
      registers,
      collect: async () => {
        const list = await director.listDeployments().catch(() => null);
        if (!list) return;
        deployments.set(list.length);
      },
    });
    const instances: Gauge = new Gauge({
      name: 'bosun_instances',
      help: 'Instances across all deployments',
      registers,
      // prom-client collects the metrics concurrently: each gauge reads the director itself.
      collect: async () => {
        const list = await director.listDeployments().catch(() => null);
        if (list) instances.set(list.reduce((n, d) => n + d.instances, 0));
      },
    });
  }
}
