import type { DirectorService } from '../../director-service.js';
import { capLogs } from '../log-cap.js';
import { flag, int, isSet, objectSchema, str, type RouteSpec } from '../route-spec.js';
import type { DeployRequest, JobRequest } from '../../../common/contracts/api.js';
import { redactManifestText } from '../../../common/redact.js';

const nameParams = objectSchema({ name: str }, ['name']);
const instanceParams = objectSchema({ name: str, group: str, index: int }, ['name', 'group', 'index']);
const deployBody = objectSchema(
  {
    manifest: { type: 'string', minLength: 1 },
    dryRun: { type: 'boolean' },
    recreate: { type: 'boolean' },
    showSecrets: { type: 'boolean' },
  },
  ['manifest'],
);

/** Deployments and what lives in them: instances, VMs, disks, jobs, logs, commands, cloud-check. */
export function deploymentRoutes(director: DirectorService, limits: { logsMaxBytes: number }): RouteSpec[] {
  const tag = 'deployments';
  return [
    {
      method: 'GET',
      url: '/api/v1/deployments',
      tag,
      auth: 'token',
      summary: 'List deployments',
      response: 'DeploymentSummary[]',
      handler: () => director.listDeployments(),
    },
    {
      method: 'POST',
      url: '/api/v1/deployments/diff',
      tag,
      auth: 'token',
      body: deployBody,
      summary: 'Validate a manifest and show what deploying it would change (changes nothing)',
      response: 'DiffResponse',
      handler: (req) => director.diff(req.body as DeployRequest),
    },
    {
      method: 'POST',
      url: '/api/v1/deployments',
      tag,
      auth: 'token',
      body: deployBody,
      summary: 'Deploy a manifest (a task); with dryRun only the diff is returned',
      response: 'TaskRef | DiffResponse',
      handler: async (req, { user }) => {
        const body = req.body as DeployRequest;
        if (body.dryRun) return director.diff(body);
        return { task: await director.deploy(body, user) };
      },
    },
    {
      method: 'GET',
      url: '/api/v1/deployments/:name',
      tag,
      auth: 'token',
      params: nameParams,
      summary: 'One deployment',
      response: 'DeploymentSummary',
      handler: (req) => director.getDeployment(p(req).name),
    },
    {
      method: 'GET',
      url: '/api/v1/deployments/:name/manifest',
      tag,
      auth: 'token',
      params: nameParams,
      querystring: objectSchema({ show_secrets: flag }),
      summary: 'The last successfully deployed manifest; secret-looking values are <redacted> unless show_secrets=1',
      response: '{ manifest: string }',
      handler: async (req) => {
        const manifest = await director.getManifest(p(req).name);
        return { manifest: isSet(q(req)['show_secrets']) ? manifest : redactManifestText(manifest) };
      },
    },
    {
      method: 'DELETE',
      url: '/api/v1/deployments/:name',
      tag,
      auth: 'token',
      params: nameParams,
      querystring: objectSchema({ force: flag }),
      summary: 'Delete a deployment with its VMs (disks are orphaned) as a task',
      response: 'TaskRef',
      handler: async (req, { user }) => ({
        task: await director.deleteDeployment(p(req).name, user, { force: isSet(q(req)['force']) }),
      }),
    },
    {
      method: 'GET',
      url: '/api/v1/deployments/:name/instances',
      tag,
      auth: 'token',
      params: nameParams,
      querystring: objectSchema({ ps: flag, vitals: flag }),
      summary: 'Instances of a deployment (ps=1: with containers, vitals=1: with vitals)',
      response: 'InstanceInfo[]',
      handler: (req) =>
        director.listInstances(p(req).name, { ps: isSet(q(req)['ps']), vitals: isSet(q(req)['vitals']) }),
    },
    {
      method: 'GET',
      url: '/api/v1/deployments/:name/vms',
      tag,
      auth: 'token',
      params: nameParams,
      summary: 'VMs of a deployment',
      response: 'VmInfo[]',
      handler: (req) => director.listVms(p(req).name),
    },
    {
      method: 'GET',
      url: '/api/v1/deployments/:name/dns',
      tag,
      auth: 'token',
      params: nameParams,
      summary: "Service discovery: the deployment's DNS records as the director pushes them, with each instance's names, address and health",
      response: 'DeploymentDns',
      handler: (req) => director.getDns(p(req).name),
    },
    {
      method: 'GET',
      url: '/api/v1/deployments/:name/disks',
      tag,
      auth: 'token',
      params: nameParams,
      summary: 'Persistent disks of a deployment',
      response: 'DiskInfo[]',
      handler: (req) => director.listDisks({ deployment: p(req).name }),
    },
    {
      method: 'POST',
      url: '/api/v1/deployments/:name/jobs',
      tag,
      auth: 'token',
      params: nameParams,
      body: objectSchema(
        {
          action: { type: 'string', enum: ['start', 'stop', 'restart', 'recreate'] },
          group: str,
          index: int,
        },
        ['action'],
      ),
      summary: 'Start, stop, restart or recreate instances (a task)',
      response: 'TaskRef',
      handler: async (req, { user }) => ({
        task: await director.runJob(p(req).name, req.body as JobRequest, user),
      }),
    },
    {
      method: 'GET',
      url: '/api/v1/deployments/:name/instances/:group/:index/logs',
      tag,
      auth: 'token',
      params: instanceParams,
      querystring: objectSchema({ container: str, lines: { type: 'integer', minimum: 1, maximum: 100000 } }),
      summary: "The last lines of an instance's container logs",
      response: '{ logs: string }',
      handler: async (req) => {
        const { name, group, index } = p(req);
        const query = q(req);
        const lines = typeof query['lines'] === 'number' ? query['lines'] : 100;
        const container = typeof query['container'] === 'string' ? query['container'] : undefined;
        return { logs: capLogs(await director.fetchLogs(name, group, Number(index), container, lines), limits.logsMaxBytes) };
      },
    },
    {
      method: 'POST',
      url: '/api/v1/deployments/:name/instances/:group/:index/ssh',
      tag,
      auth: 'token',
      params: instanceParams,
      body: objectSchema({ command: { type: 'string', minLength: 1 } }, ['command']),
      summary: 'Run a command on an instance VM',
      response: 'RunCommandResponse',
      handler: (req, { user }) => {
        const { name, group, index } = p(req);
        return director.runCommand(
          name,
          group,
          Number(index),
          (req.body as { command: string }).command,
          user,
        );
      },
    },
    {
      method: 'POST',
      url: '/api/v1/deployments/:name/cck',
      tag,
      auth: 'token',
      params: nameParams,
      body: objectSchema({
        report: { type: 'boolean' },
        auto: { type: 'boolean' },
        resolutions: { type: 'object', additionalProperties: { type: 'string' } },
      }),
      summary: 'Scan for (and fix) problems between desired and actual state (a task; result: CckResult)',
      response: 'TaskRef',
      handler: async (req, { user }) => ({
        task: await director.cloudCheck(p(req).name, (req.body ?? {}) as object, user),
      }),
    },
  ];
}

function p(req: { params: unknown }): { name: string; group: string; index: string } {
  return req.params as { name: string; group: string; index: string };
}

function q(req: { query: unknown }): Record<string, unknown> {
  return (req.query ?? {}) as Record<string, unknown>;
}
