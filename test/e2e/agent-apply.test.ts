import { request as httpsRequest } from 'node:https';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCertificateAuthority, issueAgentCertificates, issueCertificate } from '../../src/common/pki.js';
import { AGENT_PORT } from '../../src/common/contracts/agent-protocol.js';
import { createAgentVmEnv, IMAGES_DIR, type AgentVm, type AgentVmEnv } from '../helpers/agent-vm-fixture.js';
import { VM_PATHS } from '../helpers/in-vm.js';
import { buildSpec, httpServerCmd, type TestContainer } from '../helpers/instance-spec-builder.js';

function httpGet(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { timeout: 2000 }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve(body));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

describe('agent apply (real dockerd in a local-cloud VM)', () => {
  let env: AgentVmEnv;
  let vm: AgentVm;

  beforeAll(async () => {
    env = await createAgentVmEnv();
    vm = await env.createVm();
    await vm.loadImage(join(IMAGES_DIR, 'busybox.tar'));
  }, 120_000);
  afterAll(async () => {
    await env?.cleanup();
  });

  const db: TestContainer = { name: 'db', cmd: httpServerCmd(8081), ports: ['18081:8081'], storeVolumes: ['/data'], env: { GREETING: 'hello world' } };
  const web: TestContainer = { name: 'web', cmd: httpServerCmd(8080), ports: ['18080:8080'], dependsOn: ['db'] };

  it('mounts a persistent disk and runs two containers with a dependency, ports, env and a volume on it', async () => {
    const diskCid = await env.fx.cloud.createDisk(64, {});
    const hint = await env.fx.cloud.attachDisk(vm.vmCid, diskCid);
    // A disk just created: the director says so, and only then may the agent format it.
    await vm.agent.mountDisk({ diskCid, hint, newDisk: true });
    expect(await vm.agent.listDisk()).toEqual([diskCid]);

    await vm.agent.apply(buildSpec([db, web]));
    const state = await vm.agent.getState({ vitals: true });
    expect(state.jobState).toBe('running');
    expect(state.containers.map((c) => [c.name, c.state])).toEqual([
      ['db', 'running'],
      ['web', 'running'],
    ]);
    expect(state.vitals?.disk.persistent?.totalBytes).toBeGreaterThan(50 * 1024 * 1024);
    expect(await httpGet(`http://${vm.ip}:18080/`)).toBe('ok\n');
    expect(await httpGet(`http://${vm.ip}:18081/`)).toBe('ok\n');

    const r = await vm.agent.runCommand('docker exec db sh -c \'echo "$GREETING" > /data/file; cat /data/file\'');
    expect(r.stdout.trim()).toBe('hello world');
    // The volume lives on the persistent disk, under containers/<name>/<path>.
    const onDisk = await vm.readFile(join(VM_PATHS.store, 'containers/db/data/file'));
    expect(onDisk.trim()).toBe('hello world');
    const docker = await vm.docker();
    const dbInfo = await docker.getContainer('db').inspect();
    const webInfo = await docker.getContainer('web').inspect();
    expect(Date.parse(webInfo.State.StartedAt)).toBeGreaterThanOrEqual(Date.parse(dbInfo.State.StartedAt));
  });

  it('replaces only the container whose spec changed (and restarts its dependents)', async () => {
    const docker = await vm.docker();
    const before = { db: (await docker.getContainer('db').inspect()).Id, web: (await docker.getContainer('web').inspect()).Id };
    await vm.agent.apply(buildSpec([db, { ...web, env: { VERSION: '2' } }]));
    const after = { db: (await docker.getContainer('db').inspect()).Id, web: (await docker.getContainer('web').inspect()).Id };
    expect(after.db).toBe(before.db);
    expect(after.web).not.toBe(before.web);
    expect((await docker.getContainer('web').inspect()).Config.Env).toContain('VERSION=2');
    expect((await vm.agent.getState()).jobState).toBe('running');
  });

  it('builds an image from an inline Dockerfile and rebuilds it when the text changes', async () => {
    const base = { name: 'built', image: 'demo/built', dependsOn: [] };
    await vm.agent.apply(buildSpec([db, web, { ...base, dockerfile: 'FROM busybox:latest\nRUN echo one > /v\nCMD ["sh", "-c", "cat /v; sleep 3600"]\n' }]));
    expect((await vm.agent.runCommand('docker exec built cat /v')).stdout.trim()).toBe('one');
    await vm.agent.apply(buildSpec([db, web, { ...base, dockerfile: 'FROM busybox:latest\nRUN echo two > /v\nCMD ["sh", "-c", "cat /v; sleep 3600"]\n' }]));
    expect((await vm.agent.runCommand('docker exec built cat /v')).stdout.trim()).toBe('two');
    // And removes it when it leaves the spec.
    await vm.agent.apply(buildSpec([db, web]));
    const names = (await (await vm.docker()).listContainers({ all: true })).map((c) => c.Names[0]);
    expect(names.sort()).toEqual(['/db', '/web']);
  });

  it('restarts dockerd with the new options when the spec\'s docker block changes, and runs the containers again', async () => {
    const spec = buildSpec([db, web]);
    spec.docker = { ...spec.docker, labels: ['bosun.test=options-changed'] };
    await vm.agent.apply(spec);
    expect((await vm.agent.runCommand("docker info --format '{{json .Labels}}'")).stdout).toContain('bosun.test=options-changed');
    const state = await vm.waitFor('the instance to run again', async () => {
      const st = await vm.agent.getState();
      return st.jobState === 'running' ? st : false;
    });
    expect(state.dockerd.restarts).toBe(0); // a restart on purpose is not counted as a failure
    expect(await httpGet(`http://${vm.ip}:18080/`)).toBe('ok\n');
    await vm.agent.apply(buildSpec([db, web]));
  });

  it('reports an unknown image clearly in the task and in get_state', async () => {
    const spec = buildSpec([db, web, { name: 'ghost', image: 'no-such/image:1' }]);
    await expect(vm.agent.apply(spec)).rejects.toThrow(/"ghost".*no-such\/image:1/);
    const state = await vm.agent.getState();
    const ghost = state.containers.find((c) => c.name === 'ghost');
    expect(ghost?.state).toBe('failed');
    expect(ghost?.lastError).toMatch(/no-such\/image:1/);
    expect(state.jobState).toBe('failing');
    await vm.waitFor('a container_failing alert', async () => env.director.alerts.some((a) => a.category === 'container_failing' && a.container === 'ghost'), 5000);
    await vm.agent.apply(buildSpec([db, web]));
    expect((await vm.agent.getState()).jobState).toBe('running');
  });

  it("refuses clients without a certificate, with one from another CA, or with another agent's", async () => {
    const call = (opts: { cert?: string; key?: string }): Promise<number> =>
      new Promise((resolve, reject) => {
        const req = httpsRequest(
          { host: vm.ip, port: AGENT_PORT, path: '/agent/v1/actions/ping', method: 'POST', headers: { 'content-type': 'application/json' }, ca: env.ca.certPem, ...opts, timeout: 5000 },
          (res) => resolve(res.statusCode ?? 0),
        );
        req.on('error', reject);
        req.end('{}');
      });
    await expect(call({})).rejects.toThrow();
    const other = createCertificateAuthority('other CA');
    const foreign = issueCertificate(other, { commonName: 'intruder', usage: 'client' });
    await expect(call({ cert: foreign.certPem, key: foreign.keyPem })).rejects.toThrow();
    expect(await call({ cert: vm.directorCert.certPem, key: vm.directorCert.keyPem })).toBe(200);
    // Root on another VM holds its own agent key and certificates from the same CA: refused.
    const otherAgent = issueAgentCertificates(env.ca, 'agent-on-another-vm');
    expect(await call({ cert: otherAgent.clientCertPem, key: otherAgent.keyPem })).toBe(403);
    await expect(call({ cert: otherAgent.certPem, key: otherAgent.keyPem })).rejects.toThrow();
  });

  it('answers unknown actions with the one error shape', async () => {
    await expect(vm.agent.fetchLogs('nope')).rejects.toMatchObject({ code: 'not_found' });
  });

  it('after a VM reboot, mounts the disk again and starts the same containers', async () => {
    const docker = await vm.docker();
    const ids = { db: (await docker.getContainer('db').inspect()).Id, web: (await docker.getContainer('web').inspect()).Id };
    await env.fx.cloud.rebootVm(vm.vmCid);
    await vm.waitFor('the agent after the reboot', () => vm.agent.ping().then((p) => p === 'pong'), 30_000);
    const state = await vm.waitFor('the instance to run again', async () => {
      const st = await vm.agent.getState();
      return st.jobState === 'running' ? st : false;
    }, 60_000);
    expect(state.disks).toHaveLength(1);
    const after = await vm.docker();
    expect((await after.getContainer('db').inspect()).Id).toBe(ids.db);
    expect((await after.getContainer('web').inspect()).Id).toBe(ids.web);
    expect((await vm.agent.runCommand('docker exec db cat /data/file')).stdout.trim()).toBe('hello world');
    expect(await httpGet(`http://${vm.ip}:18080/`)).toBe('ok\n');
  }, 90_000);

  it('sends heartbeats to the director', async () => {
    const count = env.director.heartbeats.length;
    const hb = await vm.waitFor('a fresh heartbeat saying running', async () => {
      const last = env.director.heartbeats.at(-1);
      return env.director.heartbeats.length > count && last?.jobState === 'running' ? last : false;
    }, 10_000);
    expect(hb.vmCid).toBe(vm.vmCid);
    expect(hb.deployment).toBe('test');
    expect(hb.containers.map((c) => c.name)).toEqual(['db', 'web']);
    expect(hb.vitals.mem.kb).toBeGreaterThan(0);
  });
});
