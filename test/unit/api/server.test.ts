import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCertificateAuthority, issueAgentCertificates, issueCertificate } from '../../../src/common/pki.js';
import { call, startTestServer, testCa, type TestServer } from './test-server.js';

describe('director API server', () => {
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startTestServer();
  });
  afterAll(async () => {
    await srv?.close();
  });

  it('serves /healthz without a token', async () => {
    const res = await call(srv, 'GET', '/healthz');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ ok: true });
  });

  it('refuses /api routes without a token, saying how to log in', async () => {
    const res = await call(srv, 'GET', '/api/v1/deployments');
    expect(res.status).toBe(401);
    expect(res.body).toMatchObject({ error: { code: 'unauthorized' } });
    expect((res.body as { error: { message: string } }).error.message).toMatch(/bosun up/);
    const wrong = await call(srv, 'GET', '/api/v1/deployments', { token: 'nope' });
    expect(wrong.status).toBe(401);
    expect(srv.fake.calls).toHaveLength(0);
  });

  it('serves routes with a valid token', async () => {
    const res = await call(srv, 'GET', '/api/v1/deployments', { token: srv.token });
    expect(res.status).toBe(200);
    expect(res.body).toEqual([
      { name: 'demo', instances: 2, lastDeployedAt: '2026-01-01T00:00:00.000Z', resurrection: true },
    ]);
    const info = await call(srv, 'GET', '/api/v1/info', { token: srv.token });
    expect(info.body).toMatchObject({ cloud: 'fake' });
  });

  it('maps domain errors to their status and the one error shape', async () => {
    const missing = await call(srv, 'GET', '/api/v1/deployments/nope', { token: srv.token });
    expect(missing.status).toBe(404);
    expect(missing.body).toEqual({
      error: { code: 'not_found', message: expect.stringContaining('"nope" does not exist') },
    });
    const invalid = await call(srv, 'POST', '/api/v1/deployments/diff', {
      token: srv.token,
      body: { manifest: 'invalid: yes' },
    });
    expect(invalid.status).toBe(422);
    expect(invalid.body).toMatchObject({
      error: { code: 'invalid_manifest', details: { problems: [{ line: 3 }] } },
    });
    const conflict = await call(srv, 'DELETE', '/api/v1/disks/disk-0', { token: srv.token });
    expect(conflict.status).toBe(409);
    const noRoute = await call(srv, 'GET', '/api/v1/nothing', { token: srv.token });
    expect(noRoute.status).toBe(404);
    expect(noRoute.body).toMatchObject({ error: { code: 'not_found' } });
  });

  it('turns schema validation failures into 400 invalid_input', async () => {
    const res = await call(srv, 'POST', '/api/v1/deployments', {
      token: srv.token,
      body: { nomanifest: true },
    });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: { code: 'invalid_input' } });
    const badIndex = await call(srv, 'GET', '/api/v1/deployments/demo/instances/g/x/logs', {
      token: srv.token,
    });
    expect(badIndex.status).toBe(400);
  });

  it('deploys (task), dry-runs (diff, no task) and passes query flags', async () => {
    const dry = await call(srv, 'POST', '/api/v1/deployments', {
      token: srv.token,
      body: { manifest: 'name: demo', dryRun: true },
    });
    expect(dry.body).toMatchObject({ deployment: 'demo', changes: [{ kind: 'create_vm' }] });
    const deploy = await call(srv, 'POST', '/api/v1/deployments', {
      token: srv.token,
      body: { manifest: 'name: demo' },
    });
    expect(deploy.status).toBe(200);
    expect(deploy.body).toMatchObject({ task: { state: 'queued', user: 'admin' } });
    const instances = await call(srv, 'GET', '/api/v1/deployments/demo/instances?ps=1', { token: srv.token });
    expect((instances.body as Array<{ containers?: unknown }>)[0]?.containers).toBeDefined();
    const logs = await call(
      srv,
      'GET',
      '/api/v1/deployments/demo/instances/docker-vm-1/1/logs?container=redis&lines=5',
      { token: srv.token },
    );
    expect(logs.body).toEqual({ logs: 'log line from docker-vm-1/1 redis\n' });
    expect(srv.fake.calls.at(-1)).toEqual({
      method: 'fetchLogs',
      args: ['demo', 'docker-vm-1', 1, 'redis', 5],
    });
    const res = await call(srv, 'PUT', '/api/v1/resurrection', {
      token: srv.token,
      body: { enabled: false, deployment: 'demo' },
    });
    expect(res.body).toEqual({ enabled: false, deployment: 'demo' });
  });

  it('streams an image upload to a file and hands it to the director', async () => {
    const tar = Buffer.alloc(300_000, 7);
    const res = await call(srv, 'POST', '/api/v1/images?name=acme/web:1', {
      token: srv.token,
      rawBody: tar,
      contentType: 'application/x-tar',
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ task: { description: 'upload image' } });
    expect(srv.fake.uploadedImages.at(-1)).toEqual({ bytes: 300_000, name: 'acme/web:1' });
  });

  it('serves an OpenAPI description of every route', async () => {
    const res = await call(srv, 'GET', '/openapi.json', { token: srv.token });
    expect(res.status).toBe(200);
    const doc = res.body as { openapi: string; paths: Record<string, Record<string, unknown>> };
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/api/v1/deployments',
        '/api/v1/tasks/{id}/events',
        '/internal/v1/agents/{agentId}/heartbeat',
      ]),
    );
    expect(doc.paths['/api/v1/images']?.['post']).toBeDefined();
  });

  it('serves Prometheus metrics', async () => {
    const res = await call(srv, 'GET', '/metrics');
    expect(res.status).toBe(200);
    expect(res.text).toContain('bosun_deployments 1');
    expect(res.text).toContain('bosun_instances 2');
    expect(res.text).toMatch(/bosun_tasks\{state="queued"\} \d+/);
    expect(res.text).toContain('bosun_http_request_duration_seconds_bucket');
  });

  describe('agent routes', () => {
    const heartbeat = (agentId: string) => ({
      agentId,
      vmCid: 'vm-1',
      deployment: 'demo',
      group: 'g',
      index: 0,
      instanceId: 'i',
      jobState: 'running',
      containers: [{ name: 'redis', state: 'running', restarts: 0, flapping: false, uptimeSeconds: 5 }],
      vitals: {
        load: [0.1, 0.2, 0.3],
        cpu: { user: 1, sys: 1, wait: 0 },
        mem: { percent: 10, kb: 1000 },
        swap: { percent: 0, kb: 0 },
        disk: { ephemeral: { percent: 5, usedBytes: 5, totalBytes: 100 } },
      },
      timestamp: '2026-01-01T00:00:00Z',
    });

    it('accepts a heartbeat from the agent whose certificate CN matches', async () => {
      const certs = issueAgentCertificates(testCa(), 'agent-1');
      const cert = { certPem: certs.clientCertPem, keyPem: certs.keyPem };
      const res = await call(srv, 'POST', '/internal/v1/agents/agent-1/heartbeat', {
        body: heartbeat('agent-1'),
        cert,
      });
      expect(res.status).toBe(200);
      expect(srv.fake.heartbeats.at(-1)?.agentId).toBe('agent-1');
      const alert = await call(srv, 'POST', '/internal/v1/agents/agent-1/alerts', {
        body: {
          agentId: 'agent-1',
          severity: 2,
          category: 'container_flapping',
          title: 't',
          summary: 's',
          timestamp: '2026-01-01T00:00:00.000Z',
        },
        cert,
      });
      expect(alert.status).toBe(200);
      expect(srv.fake.agentAlerts).toHaveLength(1);
      const metrics = await call(srv, 'GET', '/metrics');
      expect(metrics.text).toContain('bosun_agent_heartbeats_total{job_state="running"} 1');
    });

    it('accepts a heartbeat with a container in any state of the contract (an exited one too)', async () => {
      const certs = issueAgentCertificates(testCa(), 'agent-1');
      const cert = { certPem: certs.clientCertPem, keyPem: certs.keyPem };
      const states = ['running', 'starting', 'unhealthy', 'restarting', 'stopped', 'exited', 'failed', 'missing'];
      const body = { ...heartbeat('agent-1'), containers: states.map((state, i) => ({ name: `c${i}`, state, restarts: 0, flapping: false, uptimeSeconds: 0 })) };
      const res = await call(srv, 'POST', '/internal/v1/agents/agent-1/heartbeat', { body, cert });
      expect(res.status, res.text).toBe(200);
      expect(srv.fake.heartbeats.at(-1)?.containers.map((c) => c.state)).toEqual(states);
    });

    it('answers a malformed heartbeat or alert with a 400 that names the field, and keeps agent strings out of /metrics', async () => {
      const certs = issueAgentCertificates(testCa(), 'agent-1');
      const cert = { certPem: certs.clientCertPem, keyPem: certs.keyPem };
      const before = srv.fake.heartbeats.length;
      const good = heartbeat('agent-1');
      const bad: Array<[unknown, RegExp]> = [
        [{ ...good, jobState: 'pwned-by-vm-7' }, /jobState/],
        [{ ...good, vitals: {} }, /vitals\.load/],
        [{ ...good, containers: 'none' }, /containers/],
        [{ ...good, containers: [{ name: 'x' }] }, /containers\.0\.state/],
        [{ ...good, index: -1 }, /index/],
        [{ ...good, timestamp: 'yesterday' }, /timestamp/],
        [{ ...good, agentId: 'agent-2' }, /does not match/],
        [[1, 2, 3], /body|expected object/i],
      ];
      for (const [body, message] of bad) {
        const res = await call(srv, 'POST', '/internal/v1/agents/agent-1/heartbeat', { body, cert });
        expect(res.status, JSON.stringify(body)).toBe(400);
        expect(res.text).toMatch(message);
      }
      const alert = await call(srv, 'POST', '/internal/v1/agents/agent-1/alerts', {
        body: { agentId: 'agent-1', severity: 9, category: 'made-up', title: 't', summary: 's', timestamp: 'x' },
        cert,
      });
      expect(alert.status).toBe(400);
      expect(srv.fake.heartbeats.length).toBe(before);
      await call(srv, 'GET', '/no/such/route/agent-1-secret');
      const metrics = await call(srv, 'GET', '/metrics');
      expect(metrics.status).toBe(200);
      expect(metrics.text).not.toMatch(/pwned|made-up|agent-1-secret/);
      expect(metrics.text).toMatch(/route="unmatched"/);
    });

    it('refuses no certificate, a stranger CA, and another agent id', async () => {
      const before = srv.fake.heartbeats.length;
      const none = await call(srv, 'POST', '/internal/v1/agents/agent-1/heartbeat', {
        body: heartbeat('agent-1'),
        token: srv.token,
      });
      expect(none.status).toBe(401);
      const stranger = issueCertificate(createCertificateAuthority('stranger'), {
        commonName: 'agent-1',
        usage: 'client',
      });
      const s = await call(srv, 'POST', '/internal/v1/agents/agent-1/heartbeat', {
        body: heartbeat('agent-1'),
        cert: stranger,
      });
      expect(s.status).toBe(401);
      const other = issueCertificate(testCa(), { commonName: 'agent-2', usage: 'client' });
      const o = await call(srv, 'POST', '/internal/v1/agents/agent-1/heartbeat', {
        body: heartbeat('agent-1'),
        cert: other,
      });
      expect(o.status).toBe(403);
      // An agent's server certificate (serverAuth only) does not authenticate it as a client.
      const server = issueAgentCertificates(testCa(), 'agent-1');
      const sv = await call(srv, 'POST', '/internal/v1/agents/agent-1/heartbeat', {
        body: heartbeat('agent-1'),
        cert: { certPem: server.certPem, keyPem: server.keyPem },
      });
      expect(sv.status).toBe(401);
      expect(srv.fake.heartbeats.length).toBe(before);
    });
  });
});
