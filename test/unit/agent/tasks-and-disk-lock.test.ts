/**
 * The agent's task registry (cancel_task), its route over the HTTPS API, the disk lock callers can
 * give up waiting on, and the one mountinfo parser.
 */
import { request } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { createAgentServer } from '../../../src/agent/api/server.js';
import { parseMountinfo } from '../../../src/agent/disks/mountinfo.js';
import { TaskRegistry } from '../../../src/agent/tasks.js';
import type { AgentApi, AgentTaskInfo, LongActionOptions, MigrateDiskResult } from '../../../src/common/contracts/agent-protocol.js';
import type { AgentSettings } from '../../../src/common/contracts/agent-settings.js';
import { CancelledError } from '../../../src/common/errors.js';
import { silentLogger } from '../../../src/common/logger.js';
import { Mutex } from '../../../src/common/mutex.js';
import { createCertificateAuthority, issueAgentCertificates, issueDirectorClientCertificate } from '../../../src/common/pki.js';
import { sleep } from '../../../src/common/waiting.js';

/** Work that runs until aborted, then takes `stopMs` to stop (as a copier does). */
function untilAborted(stopMs: number, log: string[]): (w: { signal: AbortSignal }) => Promise<never> {
  return ({ signal }) =>
    new Promise((_, reject) => {
      signal.addEventListener('abort', () => {
        setTimeout(() => {
          log.push('stopped');
          reject(new CancelledError('copy stopped'));
        }, stopMs);
      });
    });
}

describe('TaskRegistry', () => {
  it('cancel aborts the task; it stays running until its work stopped, then is cancelled', async () => {
    const tasks = new TaskRegistry(silentLogger);
    const log: string[] = [];
    const t = tasks.start('migrate_disk', untilAborted(100, log));
    expect(tasks.cancel(t.id).state).toBe('running');
    await sleep(20);
    expect(tasks.get(t.id)?.state).toBe('running');
    await sleep(150);
    expect(log).toEqual(['stopped']);
    expect(tasks.get(t.id)).toMatchObject({ state: 'cancelled', error: { code: 'cancelled' } });
  });

  it('a task that finishes although cancelled reports done; cancelling a finished task changes nothing', async () => {
    const tasks = new TaskRegistry(silentLogger);
    const t = tasks.start('mount_disk', () => sleep(50).then(() => 'ok'));
    tasks.cancel(t.id);
    await sleep(80);
    expect(tasks.get(t.id)).toMatchObject({ state: 'done', value: 'ok' });
    expect(tasks.cancel(t.id).state).toBe('done');
  });

  it('an unknown task cannot be cancelled', () => {
    expect(() => new TaskRegistry(silentLogger).cancel('nope')).toThrow(/has no task nope/);
  });
});

describe('cancel_task over the agent API', () => {
  const ca = createCertificateAuthority('unit CA');
  const server = issueAgentCertificates(ca, 'a1', { ipAddresses: ['127.0.0.1'] });
  const director = issueDirectorClientCertificate(ca);
  const log: string[] = [];
  const api = {
    migrateDisk: (_r: unknown, o: LongActionOptions = {}): Promise<MigrateDiskResult> =>
      untilAborted(100, log)({ signal: o.signal ?? new AbortController().signal }),
  } as unknown as AgentApi;
  let app: FastifyInstance;
  let port: number;

  const post = (path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> =>
    new Promise((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port,
          path,
          method: body === undefined ? 'GET' : 'POST',
          ca: ca.certPem,
          cert: director.certPem,
          key: director.keyPem,
          headers: { 'content-type': 'application/json' },
        },
        (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) as Record<string, unknown> }));
        },
      );
      req.on('error', reject);
      req.end(body === undefined ? undefined : JSON.stringify(body));
    });

  beforeAll(async () => {
    const settings = { caPem: ca.certPem, certPem: server.certPem, keyPem: server.keyPem, listen: { host: '127.0.0.1', port: 0 } } as AgentSettings;
    app = await createAgentServer(api, settings, silentLogger);
    port = (app.server.address() as { port: number }).port;
  });
  afterAll(async () => {
    await app?.close();
  });

  it('starts a migrate_disk task, cancels it, and the task ends cancelled once the copy stopped', async () => {
    const started = await post('/agent/v1/actions/migrate_disk', { phase: 'copy' });
    expect(started.status).toBe(202);
    const task = started.json.task as AgentTaskInfo;
    const cancel = await post('/agent/v1/actions/cancel_task', { taskId: task.id });
    expect(cancel.status).toBe(200);
    expect((cancel.json.value as AgentTaskInfo).state).toBe('running');
    let info: AgentTaskInfo;
    do {
      await sleep(20);
      info = (await post(`/agent/v1/tasks/${task.id}`)).json as unknown as AgentTaskInfo;
    } while (info.state === 'running');
    expect(info.state).toBe('cancelled');
    expect(log).toEqual(['stopped']);
  });

  it('answers 404 for an unknown task and 400 without taskId', async () => {
    expect((await post('/agent/v1/actions/cancel_task', { taskId: 'nope' })).status).toBe(404);
    expect((await post('/agent/v1/actions/cancel_task', {})).status).toBe(400);
  });
});

describe('Mutex with a signal', () => {
  it('a waiter that gives up never runs, and the next one still gets the lock', async () => {
    const m = new Mutex();
    const ran: string[] = [];
    const first = m.run(async () => {
      await sleep(100);
      ran.push('first');
    });
    const controller = new AbortController();
    const second = m.run(async () => {
      ran.push('second');
    }, controller.signal);
    const third = m.run(async () => {
      ran.push('third');
    });
    setTimeout(() => controller.abort(), 20);
    await expect(second).rejects.toThrow(/cancelled/);
    await Promise.all([first, third]);
    expect(ran).toEqual(['first', 'third']);
  });

  it('once started, an abort does not cut the section short', async () => {
    const m = new Mutex();
    const controller = new AbortController();
    const p = m.run(async () => {
      await sleep(50);
      return 'finished';
    }, controller.signal);
    await sleep(10);
    controller.abort();
    expect(await p).toBe('finished');
  });
});

describe('parseMountinfo', () => {
  it('reads mount point, root, type and source, unescaping octal escapes', () => {
    const text = [
      '22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/vda rw',
      '310 22 7:3 / /var/vcap/store\\040dir rw,relatime master:2 - ext4 /dev/loop3 rw',
      '311 22 0:50 / /run/a rw - tmpfs tmpfs rw',
      '312 22 8:1 /srv/disks/disk-1 /var/vcap/store rw - ext4 /dev/vda rw',
      '',
    ].join('\n');
    expect(parseMountinfo(text)).toEqual([
      { mountPoint: '/', root: '/', fsType: 'ext4', source: '/dev/vda' },
      { mountPoint: '/var/vcap/store dir', root: '/', fsType: 'ext4', source: '/dev/loop3' },
      { mountPoint: '/run/a', root: '/', fsType: 'tmpfs', source: 'tmpfs' },
      // A bind mount of a directory: the subtree it shows is its root.
      { mountPoint: '/var/vcap/store', root: '/srv/disks/disk-1', fsType: 'ext4', source: '/dev/vda' },
    ]);
  });
});
