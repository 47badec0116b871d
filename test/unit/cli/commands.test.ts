import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ExitError } from '../../../src/cli/output.js';
import { runCli, startCli, type CliHarness } from './harness.js';

describe('bosun CLI against a director API', () => {
  let h: CliHarness;
  let manifest: string;
  beforeAll(async () => {
    h = await startCli();
    manifest = join(h.dir, 'demo.yml');
    await writeFile(manifest, 'name: demo\ninstance_groups: []\n');
  });
  afterAll(async () => {
    await h?.close();
  });
  beforeEach(() => {
    h.srv.fake.calls.length = 0;
    h.srv.fake.instanceState = 'running';
    h.context.stdinIsTty = false;
    h.srv.fake.nextTask = {
      final: 'done',
      events: [
        { stage: 'Updating instance', step: 'docker-vm-1/0 (canary)', index: 1, total: 1, state: 'started' },
        {
          stage: 'Updating instance',
          step: 'docker-vm-1/0 (canary)',
          index: 1,
          total: 1,
          state: 'finished',
          elapsedMs: 1200,
        },
      ],
    };
  });

  describe('listings', () => {
    it('prints deployments as a table and as JSON', async () => {
      const table = await h.run('deployments');
      expect(table.code).toBe(0);
      expect(table.stdout).toMatch(/Name\s.*Instances/);
      expect(table.stdout).toMatch(/demo\s.*2/);
      const json = await h.run('--json', 'deployments');
      expect(json.code).toBe(0);
      expect(JSON.parse(json.stdout)).toEqual([expect.objectContaining({ name: 'demo', instances: 2 })]);
    });

    it('lists instances with containers (--ps), details and vitals', async () => {
      const res = await h.run('-d', 'demo', 'instances', '--ps', '--details', '--vitals');
      expect(res.code).toBe(0);
      expect(res.stdout).toContain('docker-vm-1/0');
      expect(res.stdout).toMatch(/redis\s.*running\s.*42s/);
      expect(res.stdout).toContain('agent-1');
      expect(res.stdout).toContain('memPercent=12');
      expect(h.srv.fake.calls).toContainEqual({
        method: 'listInstances',
        args: ['demo', { ps: true, vitals: true }],
      });
      const json = await h.run('-d', 'demo', '--json', 'instances');
      expect(JSON.parse(json.stdout)).toHaveLength(2);
    });

    it('shows each instance\'s DNS name in instances (all of them with --wide), and the records with dns', async () => {
      const res = await h.run('-d', 'demo', 'instances');
      expect(res.stdout).toContain('0.redis.docker-vm-1.demo.bosun (+1)');
      const wide = await h.run('-d', 'demo', '--wide', 'instances');
      expect(wide.stdout).toContain('0.redis.docker-vm-1.demo.bosun, 0.web.docker-vm-1.demo.bosun');
      const dns = await h.run('-d', 'demo', 'dns');
      expect(dns.code).toBe(0);
      expect(dns.stdout).toContain('Records version 7; 1 of 1 agents have it.');
      expect(dns.stdout).toMatch(/web\/0\s.*10\.244\.0\.2\s.*nginx\s.*healthy\s.*0\.nginx\.web\.demo\.bosun\s.*80\/tcp/);
      expect(dns.stdout).toMatch(/nginx\.web\.demo\.bosun\s.*A\s.*10\.244\.0\.2/);
      const json = await h.run('-d', 'demo', '--json', 'dns');
      expect(JSON.parse(json.stdout)).toMatchObject({ deployment: 'demo', version: 7 });
      expect(h.srv.fake.calls).toContainEqual({ method: 'getDns', args: ['demo'] });
    });

    it('needs -d for deployment commands (exit 1)', async () => {
      const res = await h.run('instances');
      expect(res.code).toBe(1);
      expect(res.stderr).toMatch(/-d NAME/);
    });

    it('reports an unknown deployment as a user error (exit 1) with the director message', async () => {
      const res = await h.run('-d', 'nope', 'vms');
      expect(res.code).toBe(1);
      expect(res.stderr).toContain('Deployment "nope" does not exist');
      const json = await h.run('-d', 'nope', '--json', 'vms');
      expect(JSON.parse(json.stdout)).toMatchObject({ error: { code: 'not_found' } });
    });

    it('lists vms, disks, orphaned disks, events, alerts, locks, images, tasks', async () => {
      expect((await h.run('-d', 'demo', 'vms')).stdout).toContain('vm-0');
      expect((await h.run('disks')).stdout).toContain('disk-0');
      const orphaned = await h.run('--json', 'disks', '--orphaned');
      expect(JSON.parse(orphaned.stdout)).toEqual([expect.objectContaining({ diskCid: 'disk-old' })]);
      expect((await h.run('events')).stdout).toContain('deployment demo');
      expect((await h.run('alerts')).stdout).toContain('redis is flapping');
      expect((await h.run('locks')).stdout).toContain('lock:deployment:demo');
      expect((await h.run('images')).stdout).toContain('library/redis');
      expect((await h.run('--json', 'tasks', '--recent', '5')).code).toBe(0);
      expect((await h.run('-d', 'demo', 'manifest')).stdout).toBe('name: demo\ninstance_groups: []\nproperties:\n  DB_PASSWORD: <redacted> # kept\n');
      expect((await h.run('-d', 'demo', 'manifest', '--show-secrets')).stdout).toContain('DB_PASSWORD: hunter2');
      expect((await h.run('--json', '-d', 'demo', 'manifest')).stdout).not.toContain('hunter2');
    });
  });

  describe('deploy', () => {
    it('prints the diff, deploys with -n and streams the task events (exit 0)', async () => {
      const res = await h.run('-d', 'demo', '-n', 'deploy', manifest);
      expect(res.stderr).toBe('');
      expect(res.code).toBe(0);
      expect(res.stdout).toContain('PASSWORD: <redacted>');
      expect(res.stdout).toMatch(/Task \d+: create deployment/);
      expect(res.stdout).toMatch(/Updating instance: docker-vm-1\/0 \(canary\) \(1\/1\) started/);
      expect(res.stdout).toMatch(/finished \(00:00:01\)/);
      expect(res.stdout).toMatch(/\[#+\] 100% Updating instance: 1\/1 done/);
      expect(res.stdout).toMatch(/Task \d+ done/);
      expect(h.srv.fake.calls.filter((c) => c.method === 'deploy')).toHaveLength(1);
    });

    it('streams events that arrive while it polls, each once and in order', async () => {
      h.srv.fake.nextTask = {
        final: 'done',
        gradual: true,
        pollsUntilDone: 4,
        events: [1, 2, 3].map((index) => ({
          stage: 'Updating instance',
          step: `g/${index - 1}`,
          index,
          total: 3,
          state: 'finished' as const,
        })),
      };
      const res = await h.run('-n', 'deploy', manifest);
      expect(res.code).toBe(0);
      const lines = res.stdout.split('\n').filter((l) => l.includes('| Updating instance'));
      expect(lines.map((l) => /g\/\d/.exec(l)?.[0])).toEqual(['g/0', 'g/1', 'g/2']);
      expect(res.stdout).toContain('[####################] 100% Updating instance: 3/3 done');
    });

    it('refuses without -n when stdin is not a terminal, and deploys nothing', async () => {
      const res = await h.run('deploy', manifest);
      expect(res.code).toBe(1);
      expect(res.stderr).toMatch(/Pass -n/);
      expect(h.srv.fake.calls.some((c) => c.method === 'deploy')).toBe(false);
    });

    it('asks on a terminal and goes on only with yes', async () => {
      h.context.stdinIsTty = true;
      h.answers.push('n');
      const no = await h.run('deploy', manifest);
      expect(no.code).toBe(1);
      expect(h.srv.fake.calls.some((c) => c.method === 'deploy')).toBe(false);
      h.answers.push('y');
      const yes = await h.run('deploy', manifest);
      expect(yes.code).toBe(0);
      expect(h.srv.fake.calls.some((c) => c.method === 'deploy')).toBe(true);
    });

    it('--dry-run only shows the diff; --show-secrets and --recreate are passed on', async () => {
      const res = await h.run('deploy', manifest, '--dry-run', '--show-secrets', '--recreate');
      expect(res.code).toBe(0);
      expect(res.stdout).toContain('hunter2');
      expect(h.srv.fake.calls.some((c) => c.method === 'deploy')).toBe(false);
      expect(h.srv.fake.calls[0]?.args[0]).toMatchObject({ recreate: true, showSecrets: true });
    });

    it('exits 1 with the task error when the task fails', async () => {
      h.srv.fake.nextTask = {
        final: 'error',
        error: 'docker-vm-1/0: container redis did not start: image redis:7 not found',
        events: [
          {
            stage: 'Updating instance',
            step: 'docker-vm-1/0 (canary)',
            index: 1,
            total: 1,
            state: 'failed',
            error: 'image redis:7 not found',
          },
        ],
      };
      const res = await h.run('-n', 'deploy', manifest);
      expect(res.code).toBe(1);
      expect(res.stdout).toMatch(/failed: image redis:7 not found/);
      expect(res.stderr).toMatch(/Task \d+ error: docker-vm-1\/0: container redis did not start/);
    });

    it('exits 1 when the task is done but an instance does not run', async () => {
      h.srv.fake.instanceState = 'failing';
      const res = await h.run('-n', 'deploy', manifest);
      expect(res.code).toBe(1);
      expect(res.stderr).toMatch(/2 instance\(s\) are not as desired: docker-vm-1\/0 is failing/);
    });

    it('shows manifest errors with their line (exit 1)', async () => {
      const bad = join(h.dir, 'bad.yml');
      await writeFile(bad, 'name: invalid\n');
      const res = await h.run('-n', 'deploy', bad);
      expect(res.code).toBe(1);
      expect(res.stderr).toContain('instance_groups[0].instances (line 3, col 5): must be a number');
    });

    it('prints one JSON document with --json', async () => {
      const res = await h.run('--json', '-n', 'deploy', manifest);
      expect(res.code).toBe(0);
      const doc = JSON.parse(res.stdout) as {
        task: { state: string };
        events: unknown[];
        instances: unknown[];
        diff: unknown;
      };
      expect(doc.task.state).toBe('done');
      expect(doc.events).toHaveLength(2);
      expect(doc.instances).toHaveLength(2);
    });

    it('refuses a -d that does not match the manifest', async () => {
      const res = await h.run('-d', 'other', '-n', 'deploy', manifest);
      expect(res.code).toBe(1);
      expect(res.stderr).toContain('describes deployment "demo"');
    });
  });

  describe('instance commands', () => {
    it('ssh prints the output and exits with the command exit code', async () => {
      const ok = await h.run('-d', 'demo', 'ssh', 'docker-vm-1/0', '-c', 'echo hi');
      expect(ok.code).toBe(0);
      expect(ok.stdout).toBe('out: echo hi\n');
      expect(ok.stderr).toBe('err\n');
      const failed = await h.run('-d', 'demo', 'ssh', 'docker-vm-1/1', '-c', 'fail now');
      expect(failed.code).toBe(3);
      const bad = await h.run('-d', 'demo', 'ssh', 'docker-vm-1', '-c', 'x');
      expect(bad.code).toBe(1);
      expect(bad.stderr).toContain('GROUP/INDEX');
    });

    it('logs --follow keeps polling and prints only new lines', async () => {
      let polls = 0;
      const fake = h.srv.fake;
      const original = fake.fetchLogs.bind(fake);
      fake.fetchLogs = async () => ['a', 'b', 'c', 'd'].slice(0, 2 + polls).join('\n') + '\n';
      const sleep = h.context.sleep;
      h.context.sleep = async () => {
        if (++polls > 2) throw new ExitError(0);
      };
      try {
        const res = await h.run('-d', 'demo', 'logs', 'docker-vm-1/0', '--follow');
        expect(res.code).toBe(0);
        expect(res.stdout).toBe('a\nb\nc\nd\n');
      } finally {
        fake.fetchLogs = original;
        h.context.sleep = sleep;
      }
    });

    it('logs passes container and lines', async () => {
      const res = await h.run('-d', 'demo', 'logs', 'docker-vm-1/1', 'redis', '--lines', '7');
      expect(res.stdout).toBe('log line from docker-vm-1/1 redis\n');
      expect(h.srv.fake.calls).toContainEqual({
        method: 'fetchLogs',
        args: ['demo', 'docker-vm-1', 1, 'redis', 7],
      });
    });

    it('start/stop/restart/recreate address all, a group or one instance', async () => {
      expect((await h.run('-d', 'demo', 'start')).code).toBe(0);
      expect((await h.run('-d', 'demo', '-n', 'restart', 'docker-vm-1')).code).toBe(0);
      expect((await h.run('-d', 'demo', '-n', 'recreate', 'docker-vm-1/1')).code).toBe(0);
      const jobs = h.srv.fake.calls.filter((c) => c.method === 'runJob').map((c) => c.args[1]);
      expect(jobs).toEqual([
        { action: 'start' },
        { action: 'restart', group: 'docker-vm-1' },
        { action: 'recreate', group: 'docker-vm-1', index: 1 },
      ]);
      const refused = await h.run('-d', 'demo', 'stop');
      expect(refused.code).toBe(1);
    });
  });

  describe('tasks, disks, images, resurrection, cck', () => {
    it('task --events prints a finished task with its events; cancel-task cancels', async () => {
      await h.run('-d', 'demo', 'start');
      const list = JSON.parse((await h.run('--json', 'tasks')).stdout) as Array<{ id: number }>;
      const id = String(list[0]?.id);
      const res = await h.run('task', id, '--events');
      expect(res.code).toBe(0);
      expect(res.stdout).toContain('state:      done');
      expect(res.stdout).toContain('Updating instance: docker-vm-1/0 (canary) (1/1) finished');
      const cancel = await h.run('cancel-task', id);
      expect(cancel.stdout).toContain('cancelling');
      expect((await h.run('task', 'abc')).code).toBe(1);
    });

    it('delete-disk refuses an attached disk (409 → exit 1) and deletes an orphaned one', async () => {
      const attached = await h.run('-n', 'delete-disk', 'disk-0');
      expect(attached.code).toBe(1);
      expect(attached.stderr).toContain('only orphaned disks');
      expect((await h.run('-n', 'delete-disk', 'disk-old')).code).toBe(0);
    });

    it('upload-image streams the file and follows the task', async () => {
      const tar = join(h.dir, 'image.tar');
      await writeFile(tar, Buffer.alloc(123_456, 1));
      const res = await h.run('upload-image', tar, '--name', 'acme/web:1');
      expect(res.code).toBe(0);
      expect(res.stdout).toMatch(/Task \d+ done/);
      expect(h.srv.fake.uploadedImages.at(-1)).toEqual({ bytes: 123_456, name: 'acme/web:1' });
      const missing = await h.run('upload-image', join(h.dir, 'nope.tar'));
      expect(missing.code).toBe(1);
      expect(missing.stderr).toContain('docker save');
    });

    it('update-resurrection on|off', async () => {
      const res = await h.run('-d', 'demo', 'update-resurrection', 'off');
      expect(res.stdout).toBe('Resurrection is off for deployment demo.\n');
      expect(h.srv.fake.calls).toContainEqual({ method: 'setResurrection', args: [false, 'demo', 'admin'] });
      expect((await h.run('update-resurrection', 'maybe')).code).toBe(1);
    });

    it('cck --report prints problems with resolutions and exits 1 when there are any', async () => {
      const problems = {
        problems: [
          {
            id: 1,
            type: 'missing_vm',
            description: 'VM vm-0 of docker-vm-1/0 is missing',
            instance: 'docker-vm-1/0',
            resolutions: [
              { name: 'ignore', description: 'skip' },
              { name: 'recreate_vm', description: 'recreate' },
            ],
            defaultResolution: 'recreate_vm',
          },
        ],
      };
      h.srv.fake.nextTask = { final: 'done', events: [], result: JSON.stringify(problems) };
      const res = await h.run('-d', 'demo', 'cck', '--report');
      expect(res.code).toBe(1);
      expect(res.stdout).toContain('missing_vm');
      expect(res.stdout).toContain('recreate_vm (default)');
      h.srv.fake.nextTask = { final: 'done', events: [], result: JSON.stringify({ problems: [] }) };
      const clean = await h.run('-d', 'demo', 'cck', '--report');
      expect(clean.code).toBe(0);
      expect(clean.stdout).toContain('No problems found.');
      await h.run('-d', 'demo', 'cck', '--resolution', 'missing_vm=recreate_vm');
      expect(h.srv.fake.calls.filter((c) => c.method === 'cloudCheck').at(-1)?.args[1]).toEqual({
        report: false,
        auto: false,
        resolutions: { missing_vm: 'recreate_vm' },
      });
    });
  });

  describe('target and connection errors', () => {
    it('status reports an up director', async () => {
      const res = await h.run('status');
      expect(res.code).toBe(0);
      expect(res.stdout).toMatch(/director:\s+up/);
      expect(res.stdout).toMatch(/deployments: 1/);
    });

    it('says how to log in when the token is wrong (exit 1)', async () => {
      const path = join(h.dir, 'wrong-token');
      await writeFile(path, stringify({ url: h.srv.url, token: 'wrong', caPem: h.srv.ca.certPem }));
      const res = await h.run('--config', path, 'deployments');
      expect(res.code).toBe(1);
      expect(res.stderr).toContain('bosun up');
    });

    it('says the director is not reachable and how to start it', async () => {
      const path = join(h.dir, 'down');
      await writeFile(path, stringify({ url: 'https://127.0.0.1:1', token: 't', caPem: h.srv.ca.certPem }));
      const res = await runCli({ ...h.context, env: { BOSUN_CONFIG: path } }, ['deployments']);
      expect(res.code).toBe(2);
      expect(res.stderr).toContain(
        'The director at https://127.0.0.1:1 is not reachable (ECONNREFUSED); start it with `bosun up`',
      );
      const status = await runCli({ ...h.context, env: { BOSUN_CONFIG: path } }, ['status']);
      expect(status.code).toBe(1);
      expect(status.stdout).toContain('director: down');
    });

    it('says no director is targeted when there is no config', async () => {
      const res = await runCli({ ...h.context, env: {} }, ['deployments']);
      expect(res.code).toBe(1);
      expect(res.stderr).toContain('No director is targeted');
    });
  });
});
