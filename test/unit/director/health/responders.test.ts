import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createNetServer, type Server as NetServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { Alert } from '../../../../src/common/contracts/api.js';
import { silentLogger, type Logger } from '../../../../src/common/logger.js';
import { ResponderDispatcher } from '../../../../src/director/health/responders/dispatcher.js';
import { WebhookResponder } from '../../../../src/director/health/responders/webhook-responder.js';
import { PagerDutyResponder } from '../../../../src/director/health/responders/pagerduty-responder.js';
import { EmailResponder } from '../../../../src/director/health/responders/email-responder.js';
import { createResponders } from '../../../../src/director/health/responders/create-responders.js';
import type { Responder } from '../../../../src/director/health/responders/responder.js';
import { parseHealthSettings } from '../../../../src/director/health/config.js';

const alert: Alert = {
  id: 'a-1',
  severity: 2,
  category: 'agent_unresponsive',
  title: 'Agent unresponsive',
  summary: 'agent x is silent',
  deployment: 'demo',
  instance: 'db/0',
  createdAt: new Date().toISOString(),
};

const servers: Array<Server | NetServer> = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
});

async function receiver(
  handler: (body: unknown, req: IncomingMessage, n: number) => number,
): Promise<{ url: string; bodies: unknown[] }> {
  const bodies: unknown[] = [];
  const srv = createServer((req, res) => {
    let text = '';
    req.on('data', (c: Buffer) => (text += c.toString()));
    req.on('end', () => {
      const body = JSON.parse(text) as unknown;
      bodies.push(body);
      res.statusCode = handler(body, req, bodies.length);
      res.end();
    });
  });
  servers.push(srv);
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  return { url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}/hook`, bodies };
}

describe('responders', () => {
  it('webhook: POSTs the alert as JSON to a local receiver, retrying 5xx with backoff', async () => {
    const r = await receiver((_b, _req, n) => (n < 3 ? 503 : 200));
    const hook = new WebhookResponder({
      url: r.url,
      headers: { authorization: 'Bearer t' },
      timeoutMs: 1000,
      attempts: 4,
      backoffMs: 10,
    });
    await hook.deliver(alert, new AbortController().signal);
    expect(r.bodies).toHaveLength(3);
    expect(r.bodies[2]).toMatchObject({ kind: 'alert', alert: { id: 'a-1', severity: 2, instance: 'db/0' } });
  });

  it('webhook: gives up after its attempts, and does not retry a 4xx', async () => {
    const down = await receiver(() => 500);
    const hook = new WebhookResponder({ url: down.url, timeoutMs: 1000, attempts: 3, backoffMs: 5 });
    await expect(hook.deliver(alert, new AbortController().signal)).rejects.toThrow(
      /gave up after 3 attempts.*HTTP 500/,
    );
    expect(down.bodies).toHaveLength(3);
    const bad = await receiver(() => 400);
    const hook2 = new WebhookResponder({ url: bad.url, timeoutMs: 1000, attempts: 3, backoffMs: 5 });
    await expect(hook2.deliver(alert, new AbortController().signal)).rejects.toThrow(/HTTP 400/);
    expect(bad.bodies).toHaveLength(1);
  });

  it('pagerduty: sends an Events-API-v2 trigger event', async () => {
    const r = await receiver(() => 202);
    const pd = new PagerDutyResponder({
      url: r.url,
      routingKey: 'R0UT1NG',
      timeoutMs: 1000,
      attempts: 2,
      director: 'd1',
    });
    await pd.deliver(alert, new AbortController().signal);
    expect(r.bodies[0]).toMatchObject({
      routing_key: 'R0UT1NG',
      event_action: 'trigger',
      dedup_key: 'agent_unresponsive:demo:db/0',
      payload: {
        severity: 'critical',
        source: 'd1',
        component: 'db/0',
        group: 'demo',
        class: 'agent_unresponsive',
      },
    });
  });

  it('email: sends the alert over SMTP', async () => {
    const received: string[] = [];
    const smtp = createNetServer((sock) => {
      let inData = false;
      let buf = '';
      sock.write('220 test ESMTP\r\n');
      sock.on('data', (chunk: Buffer) => {
        buf += chunk.toString();
        let nl: number;
        while ((nl = buf.indexOf('\r\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 2);
          if (inData) {
            if (line === '.') {
              inData = false;
              sock.write('250 queued\r\n');
            } else received.push(line);
          } else if (/^(EHLO|HELO)/i.test(line)) sock.write('250 test\r\n');
          else if (/^DATA/i.test(line)) {
            inData = true;
            sock.write('354 go\r\n');
          } else if (/^QUIT/i.test(line)) sock.end('221 bye\r\n');
          else sock.write('250 ok\r\n');
        }
      });
    });
    servers.push(smtp);
    smtp.listen(0, '127.0.0.1');
    await once(smtp, 'listening');
    const mail = new EmailResponder({
      host: '127.0.0.1',
      port: (smtp.address() as AddressInfo).port,
      secure: false,
      from: 'bosun@example.test',
      to: ['ops@example.test'],
      timeoutMs: 2000,
    });
    await mail.deliver(alert);
    const text = received.join('\n');
    expect(text).toMatch(/Subject: \[bosun CRITICAL\] Agent unresponsive \(demo db\/0\)/);
    expect(text).toContain('agent x is silent');
  });

  it('a slow or failing responder blocks neither the others nor the caller', async () => {
    const got: string[] = [];
    const warnings: string[] = [];
    const logger: Logger = { ...silentLogger, warn: (m) => void warnings.push(m), child: () => logger };
    const hang: Responder = { name: 'hang', minSeverity: 4, deliver: () => new Promise(() => undefined) };
    const boom: Responder = {
      name: 'boom',
      minSeverity: 4,
      deliver: () => Promise.reject(new Error('smtp down')),
    };
    const ok: Responder = { name: 'ok', minSeverity: 4, deliver: async (a) => void got.push(a.id) };
    const picky: Responder = { name: 'picky', minSeverity: 1, deliver: async () => void got.push('picky') };
    const d = new ResponderDispatcher([hang, boom, ok, picky], logger, {
      deliveryTimeoutMs: 100,
      maxInFlight: 1,
    });
    const t0 = Date.now();
    d.dispatch(alert);
    d.dispatch(alert); // every responder already has 1 in flight (the limit): dropped, not queued
    expect(Date.now() - t0).toBeLessThan(50);
    await d.drain();
    // ok got the first alert although hang never answers and boom failed; picky only takes severity 1.
    expect(got).toEqual(['a-1']);
    expect(warnings.some((w) => /boom could not deliver.*smtp down/.test(w))).toBe(true);
    expect(warnings.some((w) => /hang could not deliver.*timed out/.test(w))).toBe(true);
    expect(warnings.some((w) => /hang has 1 alerts in flight/.test(w))).toBe(true);
  });

  it('builds the configured responders from the config file, with the log responder always there', () => {
    const s = parseHealthSettings({
      health: { agent_timeout: '15s' },
      resurrector: { minimum_down_jobs: 3 },
      responders: [
        { type: 'webhook', url: 'http://127.0.0.1:9/x', attempts: 2 },
        { type: 'pagerduty', url: 'http://127.0.0.1:9/enqueue', routing_key: 'k', min_severity: 2 },
        { type: 'email', smtp: { host: '127.0.0.1' }, from: 'a@b', to: ['c@d'] },
      ],
    });
    expect(s.health.heartbeatTimeoutMs).toBe(15_000);
    expect(s.health.heartbeatIntervalMs).toBe(2_000);
    expect(s.resurrector.meltdown).toEqual({
      minimumDownJobs: 3,
      percentThreshold: 20,
      timeThresholdMs: 600_000,
    });
    const rs = createResponders(s.responders, silentLogger);
    expect(rs.map((r) => r.name)).toEqual(['log', 'webhook 127.0.0.1:9', 'pagerduty', 'email']);
    expect(rs[2]?.minSeverity).toBe(2);
    expect(() => parseHealthSettings({ health: { agent_timeout: '1s' } })).toThrow(
      /agent_timeout .* must be longer than health.heartbeat_interval/,
    );
    expect(() => parseHealthSettings({ responders: [{ type: 'webhook' }] })).toThrow(/responders.0.url/);
  });
});
