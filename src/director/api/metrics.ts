import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { DirectorService } from '../director-service.js';
import type { TaskState } from '../../common/contracts/api.js';

const TASK_STATES: TaskState[] = ['queued', 'processing', 'done', 'error', 'cancelling', 'cancelled'];
/** How many recent tasks the task gauge looks at: enough for a picture, cheap enough per scrape. */
const TASK_WINDOW = 1000;

/** Label values are from fixed sets: a client's or an agent's own strings never become one. */
const JOB_STATES: readonly string[] = ['running', 'failing', 'starting', 'stopped', 'unknown'];
const ALERT_CATEGORIES: readonly string[] = ['container_flapping', 'container_failing', 'dockerd_failing', 'disk_full', 'agent'];
const METHODS: readonly string[] = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

/** `value` when it is one of `known`, else "other". */
export function boundedLabel(value: string, known: readonly string[]): string {
  return known.includes(value) ? value : 'other';
}

/**
 * The director's Prometheus metrics, served without a token: only aggregate counters and gauges
 * whose label values come from fixed sets (route patterns, HTTP methods and status classes,
 * job states, alert categories, task states), so nothing in them names a VM, a deployment or a
 * string an agent chose. One registry per server (not prom-client's global one), so
 * that tests can run several servers in one process. Gauges read the director at scrape time.
 */
export class ApiMetrics {
  readonly registry = new Registry();
  readonly httpDuration: Histogram<'method' | 'route' | 'status'>;
  readonly heartbeats: Counter<'job_state'>;
  readonly agentAlerts: Counter<'category'>;

  /** One HTTP request; `route` is the route pattern (or "unmatched"), never the raw URL. */
  observeRequest(method: string, route: string, status: number, seconds: number): void {
    const statusLabel = status >= 100 && status < 600 ? String(status) : 'other';
    this.httpDuration.observe({ method: boundedLabel(method, METHODS), route, status: statusLabel }, seconds);
  }

  countHeartbeat(jobState: string): void {
    this.heartbeats.inc({ job_state: boundedLabel(jobState, JOB_STATES) });
  }

  countAgentAlert(category: string): void {
    this.agentAlerts.inc({ category: boundedLabel(category, ALERT_CATEGORIES) });
  }

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
