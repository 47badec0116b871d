import type { DirectorService } from '../../director-service.js';
import { flag, isSet, objectSchema, str, type RouteSpec } from '../route-spec.js';

const listQuery = objectSchema({ deployment: str, limit: { type: 'integer', minimum: 1, maximum: 10000 } });

/** Director-wide routes: info, orphaned disks, audit events, alerts, locks, resurrection. */
export function directorWideRoutes(director: DirectorService): RouteSpec[] {
  return [
    {
      method: 'GET',
      url: '/api/v1/info',
      tag: 'director',
      auth: 'token',
      summary: 'Director name, version, cloud and registry',
      response: 'DirectorInfo',
      handler: () => director.info(),
    },
    {
      method: 'GET',
      url: '/api/v1/disks',
      tag: 'disks',
      auth: 'token',
      querystring: objectSchema({ orphaned: flag }),
      summary: 'Persistent disks (orphaned=1: only orphaned ones)',
      response: 'DiskInfo[]',
      handler: (req) =>
        director.listDisks({ orphaned: isSet((req.query as { orphaned?: string }).orphaned) }),
    },
    {
      method: 'DELETE',
      url: '/api/v1/disks/:cid',
      tag: 'disks',
      auth: 'token',
      params: objectSchema({ cid: str }, ['cid']),
      summary: 'Delete an orphaned disk (a task)',
      response: 'TaskRef',
      handler: async (req, { user }) => ({
        task: await director.deleteDisk((req.params as { cid: string }).cid, user),
      }),
    },
    {
      method: 'GET',
      url: '/api/v1/events',
      tag: 'director',
      auth: 'token',
      querystring: listQuery,
      summary: 'Audit events, newest first',
      response: 'AuditEvent[]',
      handler: (req) => director.listEvents(req.query as { deployment?: string; limit?: number }),
    },
    {
      method: 'GET',
      url: '/api/v1/alerts',
      tag: 'director',
      auth: 'token',
      querystring: listQuery,
      summary: 'Health alerts, newest first',
      response: 'Alert[]',
      handler: (req) => director.listAlerts(req.query as { deployment?: string; limit?: number }),
    },
    {
      method: 'GET',
      url: '/api/v1/locks',
      tag: 'director',
      auth: 'token',
      summary: 'Locks held by running tasks',
      response: 'LockInfo[]',
      handler: () => director.listLocks(),
    },
    {
      method: 'PUT',
      url: '/api/v1/resurrection',
      tag: 'director',
      auth: 'token',
      body: objectSchema({ enabled: { type: 'boolean' }, deployment: str }, ['enabled']),
      summary: 'Turn the resurrector on or off (for one deployment or globally)',
      response: '{ enabled, deployment? }',
      handler: async (req, { user }) => {
        const { enabled, deployment } = req.body as { enabled: boolean; deployment?: string };
        await director.setResurrection(enabled, deployment, user);
        return deployment === undefined ? { enabled } : { enabled, deployment };
      },
    },
  ];
}
