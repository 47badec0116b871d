/**
 * A local-cloud VM booted from the built stemcell (scripts/build-stemcell.sh; its agent is the
 * stemcell's), a CA with the director's client certificate, a fake director that records
 * heartbeats and alerts, and access to the VM from the host through test/helpers/in-vm.ts (the VM
 * has its own root: host paths mean nothing inside it; its paths are `VM_PATHS`).
 */
import { createServer, type Server } from 'node:https';
import { basename, dirname, join, resolve } from 'node:path';
import type Docker from 'dockerode';
import { createCertificateAuthority, issueAgentCertificates, issueCertificate, issueDirectorClientCertificate, type CertificateAuthority, type IssuedCertificate } from '../../src/common/pki.js';
import { HttpAgentClient } from '../../src/director/agent-client/http-agent-client.js';
import { AGENT_PORT, type AgentAlert, type Heartbeat } from '../../src/common/contracts/agent-protocol.js';
import { loadImageIntoVm, readFileInVm, runInVm, vmDocker } from './in-vm.js';
import { createLocalCloudFixture, type LocalCloudFixture } from './local-cloud-fixture.js';

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
  /** Runs a command inside the VM (its namespaces and root; see in-vm.ts). */
  inVm(args: string[]): Promise<string>;
  /** A file of the VM, by its path inside the VM. */
  readFile(pathInVm: string): Promise<string>;
  /** `docker load` of a tarball on the host into the VM's dockerd. */
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
      stemcell: await fx.stemcell(),
      cloudProperties: {},
      networks: { default: { ip, netmask: '255.255.255.0' } },
      diskCids: [],
      env: { directorUrl: director.url, caPem: ca.certPem, certPem: agentCert.certPem, clientCertPem: agentCert.clientCertPem, keyPem: agentCert.keyPem, heartbeatIntervalMs: options.heartbeatIntervalMs ?? 1000 },
    });
    const agent = new HttpAgentClient({ agentId, baseUrl: `https://${ip}:${AGENT_PORT}`, caPem: ca.certPem, certPem: directorCert.certPem, keyPem: directorCert.keyPem, requestTimeoutMs: 20_000, pollIntervalMs: 100 });
    clients.push(agent);
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
      docker: async () => vmDocker(await pid1()),
      inVm: async (args) => runInVm(await pid1(), args),
      readFile: async (pathInVm) => readFileInVm(await pid1(), pathInVm),
      loadImage: async (tarPath) => loadImageIntoVm(await pid1(), tarPath),
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
