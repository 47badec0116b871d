import type { DirectorService } from '../../director-service.js';
import { int, objectSchema, str, type RouteSpec } from '../route-spec.js';

const idParams = objectSchema({ id: int }, ['id']);

export function taskRoutes(director: DirectorService): RouteSpec[] {
  const tag = 'tasks';
  return [
    {
      method: 'GET',
      url: '/api/v1/tasks',
      tag,
      auth: 'token',
      querystring: objectSchema({ recent: { type: 'integer', minimum: 1, maximum: 10000 }, deployment: str }),
      summary: 'Tasks, newest first',
      response: 'TaskInfo[]',
      handler: (req) => {
        const { recent, deployment } = req.query as { recent?: number; deployment?: string };
        return director.listTasks({ recent: recent ?? 30, deployment });
      },
    },
    {
      method: 'GET',
      url: '/api/v1/tasks/:id',
      tag,
      auth: 'token',
      params: idParams,
      summary: 'One task',
      response: 'TaskInfo',
      handler: (req) => director.getTask((req.params as { id: number }).id),
    },
    {
      method: 'GET',
      url: '/api/v1/tasks/:id/events',
      tag,
      auth: 'token',
      params: idParams,
      querystring: objectSchema({ after: { type: 'integer', minimum: -1 } }),
      summary: "A task's events after sequence number `after` (poll to stream)",
      response: 'TaskEvent[]',
      handler: (req) =>
        director.taskEvents((req.params as { id: number }).id, (req.query as { after?: number }).after),
    },
    {
      method: 'POST',
      url: '/api/v1/tasks/:id/cancel',
      tag,
      auth: 'token',
      params: idParams,
      summary: 'Cancel a task',
      response: 'TaskInfo',
      handler: (req, { user }) => director.cancelTask((req.params as { id: number }).id, user),
    },
  ];
}
