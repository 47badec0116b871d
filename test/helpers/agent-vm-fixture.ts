/**
 * A local-cloud VM running the real agent (dist/src/agent/main.js, build first), a CA with the
 * director's client certificate, a fake director that records heartbeats and alerts, and access
 * to the VM's dockerd from the host (through /proc/<pid1>/root, since its socket lives on the
 * VM's private tmpfs).
 */
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:https';
import { basename, dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import { createCertificateAuthority, issueAgentCertificates, issueCertificate, issueDirectorClientCertificate, type CertificateAuthority, type IssuedCertificate } from '../../src/common/pki.js';
import { HttpAgentClient } from '../../src/director/agent-client/http-agent-client.js';
import { AGENT_PORT, type AgentAlert, type Heartbeat } from '../../src/common/contracts/agent-protocol.js';
import { createLocalCloudFixture, type LocalCloudFixture } from './local-cloud-fixture.js';

const exec = promisify(execFile);

export interface FakeDirector {
  url: string;
  heartbeats: Heartbeat[];
  alerts: AgentAlert[];
  close(): Promise<void>;
}

export async function startFakeDirector(ca: CertificateAuthority, host: string): Promise<FakeDirector> {
  const cert = issueCertificate(ca, { commonName: 'director', ipAddresses: [host], usage: 'server' });
  const heartbeats: Heartbeat[] = [];
  const alerts: AgentAlert[] = [];
  const server: Server = createServer({ ca: ca.certPem, cert: cert.certPem, key: cert.keyPem, requestCert: true, rejectUnauthorized: true }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as unknown;
      if (req.url?.endsWith('/heartbeat')) heartbeats.push(body as Heartbeat);
      else if (req.url?.endsWith('/alerts')) alerts.push(body as AgentAlert);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, host, r));
  const port = (server.address() as { port: number }).port;
  return {
    url: `https://${host}:${port}`,
    heartbeats,
    alerts,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

export interface AgentVm {
  vmCid: string;
  ip: string;
  agent: HttpAgentClient;
  directorCert: IssuedCertificate;
  pid1(): Promise<number>;
  /** dockerode on the VM's dockerd (via /proc/<pid1>/root). */
  docker(): Promise<Docker>;
  /** Runs a command inside the VM (its mount, PID and network namespaces). */
  inVm(args: string[]): Promise<string>;
  loadImage(tarPath: string): Promise<void>;
  waitFor<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs?: number): Promise<T>;
}

export interface AgentVmEnv {
  fx: LocalCloudFixture;
  ca: CertificateAuthority;
  director: FakeDirector;
  createVm(options?: { heartbeatIntervalMs?: number }): Promise<AgentVm>;
  cleanup(): Promise<void>;
}

/** build/images of the repository, whether this file runs from test/ (vitest) or dist/test/ (bench). */
const repoRoot = ((): string => {
  const up = resolve(import.meta.dirname, '../..');
  return basename(up) === 'dist' ? dirname(up) : up;
})();
export const IMAGES_DIR = join(repoRoot, 'build/images');

export async function createAgentVmEnv(): Promise<AgentVmEnv> {
  const fx = await createLocalCloudFixture();
  const ca = createCertificateAuthority('test CA');
  let director: FakeDirector;
  try {
    director = await startFakeDirector(ca, fx.hostIp);
  } catch (err) {
    await fx.cleanup();
    throw err;
  }
  const directorCert = issueDirectorClientCertificate(ca);
  const prefix = fx.hostIp.split('.').slice(0, 3).join('.');
  let nextHost = 20 + Math.floor(Math.random() * 100);
  const clients: HttpAgentClient[] = [];

  const createVm = async (options: { heartbeatIntervalMs?: number } = {}): Promise<AgentVm> => {
    const ip = `${prefix}.${nextHost++}`;
    const agentId = `agent-${ip.replace(/\./g, '-')}`;
    const agentCert = issueAgentCertificates(ca, agentId, { ipAddresses: [ip] });
    const { vmCid } = await fx.cloud.createVm({
      agentId,
      stemcell: 'local',
      cloudProperties: {},
      networks: { default: { ip, netmask: '255.255.255.0' } },
      diskCids: [],
      env: { directorUrl: director.url, caPem: ca.certPem, certPem: agentCert.certPem, clientCertPem: agentCert.clientCertPem, keyPem: agentCert.keyPem, heartbeatIntervalMs: options.heartbeatIntervalMs ?? 1000 },
    });
    const agent = new HttpAgentClient({ agentId, baseUrl: `https://${ip}:${AGENT_PORT}`, caPem: ca.certPem, certPem: directorCert.certPem, keyPem: directorCert.keyPem, requestTimeoutMs: 20_000, pollIntervalMs: 100 });
    clients.push(agent);
    const root = fx.cloud.vmDir(vmCid);
    const pid1 = async (): Promise<number> => {
      const p = await fx.cloud.vmPid(vmCid);
      if (p === null) throw new Error(`VM ${vmCid} is not running`);
      return p;
    };
    const waitFor = async <T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> => {
      const deadline = Date.now() + timeoutMs;
      let last: unknown;
      while (Date.now() < deadline) {
        try {
          const v = await fn();
          if (v !== undefined && v !== false) return v;
        } catch (err) {
          last = err;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    };
    const vm: AgentVm = {
      vmCid,
      ip,
      agent,
      directorCert,
      pid1,
      docker: async () => new Docker({ socketPath: `/proc/${await pid1()}/root${join(root, 'run', 'docker.sock')}` }),
      inVm: async (args) => (await exec('nsenter', ['-t', String(await pid1()), '-m', '-n', '-p', '--', ...args])).stdout,
      loadImage: async (tarPath) => {
        const r = await agent.runCommand(`docker load -i '${tarPath}'`, 120_000);
        if (r.exitCode !== 0) throw new Error(`docker load ${tarPath} failed: ${r.stderr}`);
      },
      waitFor,
    };
    await waitFor('the agent to answer ping', () => agent.ping().then((p) => p === 'pong'), 30_000);
    await waitFor('dockerd in the VM', async () => (await agent.runCommand('docker info --format "{{.ServerVersion}}"')).exitCode === 0, 60_000);
    return vm;
  };

  return {
    fx,
    ca,
    director,
    createVm,
    cleanup: async () => {
      await director.close().catch(() => undefined);
      await fx.cleanup();
    },
  };
}
