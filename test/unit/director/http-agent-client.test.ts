import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { AgentTaskInfo, MigrateDiskProgress } from '../../../src/common/contracts/agent-protocol.js';
import { ConflictError, TimeoutError } from '../../../src/common/errors.js';
import { createCertificateAuthority, issueCertificate } from '../../../src/common/pki.js';
import { HttpAgentClient } from '../../../src/director/agent-client/http-agent-client.js';

/**
 * Long actions of the director's agent client against a scripted agent: polls that get no answer
 * are repeated, a task given up on is cancelled on the agent and waited for.
 */
describe('HttpAgentClient long actions', () => {
  const ca = createCertificateAuthority('agent client CA');
  const agentCert = issueCertificate(ca, { commonName: 'a1', ipAddresses: ['127.0.0.1'], usage: 'server' });
  const directorCert = issueCertificate(ca, { commonName: 'director', usage: 'client' });
  let server: Server;
  let baseUrl: string;

  /** What the scripted agent does on each poll of the task (in order; the last one repeats). */
  let polls: Array<'drop' | 'hang' | 'running' | AgentTaskInfo>;
  let pollCount: number;
  let cancelled: { taskId: unknown; at: number } | null;
  let stoppedAt: number | null;
  let stopAfterCancelMs: number;
  let hasCancel: boolean;

  beforeEach(() => {
    polls = ['running'];
    pollCount = 0;
    cancelled = null;
    stoppedAt = null;
    stopAfterCancelMs = 200;
    hasCancel = true;
  });

  const taskNow = (): AgentTaskInfo | 'drop' | 'hang' => {
    if (cancelled) {
      if (Date.now() - cancelled.at < stopAfterCancelMs) return { id: 't1', state: 'running' };
      stoppedAt ??= Date.now();
      return { id: 't1', state: 'cancelled', error: { code: 'cancelled', message: 'cancelled' } };
    }
    const step = polls[Math.min(pollCount++, polls.length - 1)] ?? 'running';
    return step === 'running' ? { id: 't1', state: 'running', progress: { phase: 'copy', bytesCopied: pollCount, filesCopied: 1 } } : step;
  };

  beforeAll(async () => {
    server = createServer({ ca: ca.certPem, cert: agentCert.certPem, key: agentCert.keyPem, requestCert: true, rejectUnauthorized: true }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = chunks.length ? (JSON.parse(Buffer.concat(chunks).toString()) as Record<string, unknown>) : {};
        route(req, res, body);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    baseUrl = `https://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });

  function route(req: IncomingMessage, res: ServerResponse, body: Record<string, unknown>): void {
    if (req.url === '/agent/v1/actions/migrate_disk' || req.url === '/agent/v1/actions/stop') {
      return json(res, 202, { task: { id: 't1', state: 'running' } });
    }
    if (req.url === '/agent/v1/actions/cancel_task') {
      if (!hasCancel) return json(res, 404, { error: { code: 'not_found', message: 'The agent has no action "cancel_task".' } });
      cancelled = { taskId: body.taskId, at: Date.now() };
      return json(res, 200, { value: null });
    }
    if (req.url === '/agent/v1/tasks/t1') {
      const t = taskNow();
      if (t === 'drop') return void req.socket.destroy();
      if (t === 'hang') return;
      return json(res, 200, t);
    }
    json(res, 404, { error: { code: 'not_found', message: `no ${req.url}` } });
  }

  const client = (o: Partial<ConstructorParameters<typeof HttpAgentClient>[0]> = {}): HttpAgentClient =>
    new HttpAgentClient({ agentId: 'a1', baseUrl, caPem: ca.certPem, certPem: directorCert.certPem, keyPem: directorCert.keyPem, requestTimeoutMs: 300, pollIntervalMs: 30, cancelWaitMs: 5000, ...o });

  it('repeats polls that got no answer (dropped, timed out) and finishes the task', async () => {
    const done: AgentTaskInfo = { id: 't1', state: 'done', value: { bytesCopied: 7, filesCopied: 1, durationMs: 5 } };
    polls = ['running', 'drop', 'hang', 'running', done];
    const progress: MigrateDiskProgress[] = [];
    const c = client();
    const result = await c.migrateDisk({ phase: 'copy' }, { onProgress: (p) => progress.push(p) });
    expect(result).toEqual(done.value);
    expect(pollCount).toBe(5);
    expect(progress.length).toBe(2);
    await c.close();
  });

  it('cancels the task on the agent when the signal aborts, and rejects only once it stopped', async () => {
    const c = client();
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('the operator cancelled the resize')), 150);
    const err = await c.migrateDisk({ phase: 'copy' }, { signal: controller.signal }).catch((e: unknown) => e);
    const rejectedAt = Date.now();
    expect(err).toMatchObject({ message: 'the operator cancelled the resize' });
    expect(cancelled?.taskId).toBe('t1');
    expect(stoppedAt).not.toBeNull();
    expect(rejectedAt).toBeGreaterThanOrEqual(stoppedAt ?? Infinity);
    await c.close();
  });

  it('cancels a task that outlives its deadline and says so', async () => {
    const c = client({ taskTimeoutMs: 200 });
    const err = await c.stop().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TimeoutError);
    expect((err as Error).message).toMatch(/did not finish "stop" \(task t1\)/);
    expect(cancelled?.taskId).toBe('t1');
    await c.close();
  });

  it('says the task may still run when it does not stop after the cancel', async () => {
    hasCancel = false;
    const c = client({ taskTimeoutMs: 100, cancelWaitMs: 300 });
    await expect(c.stop()).rejects.toThrow(/did not stop within 0 s of being cancelled and may still be running/);
    await c.close();
  });

  it("keeps a failed task's code and details", async () => {
    polls = [{ id: 't1', state: 'failed', error: { code: 'conflict', message: 'Cannot unmount: redis uses the store.', details: { containers: ['redis'] } } }];
    const c = client();
    const err = await c.stop().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConflictError);
    expect(err).toMatchObject({ httpStatus: 409, message: 'Cannot unmount: redis uses the store.', details: { containers: ['redis'] } });
    await c.close();
  });
});

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text);
}
