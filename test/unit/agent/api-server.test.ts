import { request } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { createAgentServer } from '../../../src/agent/api/server.js';
import type { AgentApi, AgentState } from '../../../src/common/contracts/agent-protocol.js';
import type { AgentSettings } from '../../../src/common/contracts/agent-settings.js';
import { ConflictError } from '../../../src/common/errors.js';
import { silentLogger } from '../../../src/common/logger.js';
import { createCertificateAuthority, issueAgentCertificates, issueCertificate, issueDirectorClientCertificate } from '../../../src/common/pki.js';
import { HttpAgentClient } from '../../../src/director/agent-client/http-agent-client.js';
import { HttpAgentConnector } from '../../../src/director/agent-client/http-agent-connector.js';
import type { InstanceSpec } from '../../../src/common/contracts/instance-spec.js';
import { DnsRecordStore, parseDnsPush } from '../../../src/agent/dns/dns-record-store.js';
import { DnsVersionMismatchError, InvalidInputError } from '../../../src/common/errors.js';

/** The agent's HTTPS API and the director's client, against an in-memory AgentApi. */
describe('agent API server + HttpAgentClient', () => {
  const ca = createCertificateAuthority('unit CA');
  const agentCerts = issueAgentCertificates(ca, 'a1', { ipAddresses: ['127.0.0.1'] });
  const server = { certPem: agentCerts.certPem, keyPem: agentCerts.keyPem };
  const director = issueDirectorClientCertificate(ca);
  const applied: InstanceSpec[] = [];
  const dns = new DnsRecordStore();
  const fake: AgentApi = {
    ping: () => Promise.resolve('pong'),
    getState: () => Promise.resolve({ agentId: 'a1', jobState: 'running' } as AgentState),
    apply: async (spec) => {
      await new Promise((r) => setTimeout(r, 300));
      applied.push(spec);
    },
    start: () => Promise.reject(new ConflictError('Cannot start: the disk is not mounted.', { details: { disk: 'disk-1' } })),
    stop: () => Promise.resolve(),
    drain: () => Promise.resolve(),
    mountDisk: () => Promise.resolve(),
    unmountDisk: () => Promise.resolve(),
    listDisk: () => Promise.resolve(['disk-1']),
    fetchLogs: (c, lines) => Promise.resolve(`${c}:${lines ?? 'all'}`),
    runCommand: (cmd) => Promise.resolve({ exitCode: 0, stdout: cmd, stderr: '' }),
    updateDns: async (p) => dns.apply(parseDnsPush(p)).result,
    getDns: () => Promise.resolve({ version: dns.version, set: dns.set }),
  };
  let app: FastifyInstance;
  let client: HttpAgentClient;
  let port: number;

  beforeAll(async () => {
    const settings = { caPem: ca.certPem, certPem: server.certPem, keyPem: server.keyPem, listen: { host: '127.0.0.1', port: 0 } } as AgentSettings;
    app = await createAgentServer(fake, settings, silentLogger);
    port = (app.server.address() as { port: number }).port;
    client = new HttpAgentClient({ agentId: 'a1', baseUrl: `https://127.0.0.1:${port}`, caPem: ca.certPem, certPem: director.certPem, keyPem: director.keyPem, pollIntervalMs: 50 });
  });
  afterAll(async () => {
    await app?.close();
  });

  it('answers quick actions with their value', async () => {
    expect(await client.ping()).toBe('pong');
    expect((await client.getState()).jobState).toBe('running');
    expect(await client.listDisk()).toEqual(['disk-1']);
    expect(await client.fetchLogs('web', 5)).toBe('web:5');
    expect((await client.runCommand('echo hi')).stdout).toBe('echo hi');
  });

  it('runs long actions as tasks and waits for them', async () => {
    await client.apply({ specHash: 'h1' } as InstanceSpec);
    expect(applied.map((s) => s.specHash)).toEqual(['h1']);
  });

  it('rebuilds a failed task as a typed error', async () => {
    const err = await client.start().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConflictError);
    expect(err).toMatchObject({ code: 'conflict', httpStatus: 409, message: 'Cannot start: the disk is not mounted.', details: { disk: 'disk-1' } });
  });

  it('takes DNS pushes on PUT /agent/v1/dns and answers a mismatched delta with 409 dns_version_mismatch', async () => {
    expect(await client.updateDns({ kind: 'full', set: { version: 4, instances: [], aliases: [{ name: 'a.bosun', target: 'b.bosun' }] } })).toEqual({ version: 4 });
    expect(await client.getDns()).toEqual({ version: 4, set: { version: 4, instances: [], aliases: [{ name: 'a.bosun', target: 'b.bosun' }] } });
    const err = await client.updateDns({ kind: 'delta', baseVersion: 2, version: 5, upsert: [], remove: [] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DnsVersionMismatchError);
    expect(err).toMatchObject({ code: 'dns_version_mismatch', httpStatus: 409, details: { version: 4 } });
    await expect(client.updateDns({ kind: 'sideways' } as unknown as Parameters<AgentApi['updateDns']>[0])).rejects.toBeInstanceOf(InvalidInputError);
  });

  it('answers bad requests with the one error shape', async () => {
    await expect(client.fetchLogs('')).rejects.toMatchObject({ code: 'invalid_input' });
  });

  it('refuses a client without a certificate', async () => {
    const attempt = new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/agent/v1/actions/ping', method: 'POST', ca: ca.certPem }, resolve);
      req.on('error', reject);
      req.end();
    });
    await expect(attempt).rejects.toThrow();
  });

  const pingWith = (cert?: { certPem: string; keyPem: string }): Promise<number> =>
    new Promise((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port, path: '/agent/v1/actions/ping', method: 'POST', headers: { 'content-type': 'application/json' }, ca: ca.certPem, cert: cert?.certPem, key: cert?.keyPem },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.end('{}');
    });

  it("answers the director's client certificate and refuses another agent's certificates", async () => {
    expect(await pingWith(director)).toBe(200);
    // Root on another VM holds that agent's key and both of its certificates, all issued by the same CA.
    const other = issueAgentCertificates(ca, 'agent-other', { ipAddresses: ['127.0.0.1'] });
    expect(await pingWith({ certPem: other.clientCertPem, keyPem: other.keyPem })).toBe(403);
    // The server certificate has no clientAuth usage: refused at the TLS handshake.
    await expect(pingWith({ certPem: other.certPem, keyPem: other.keyPem })).rejects.toThrow();
    // Any other client certificate of the CA, whatever its name, is refused too.
    const lookalike = issueCertificate(ca, { commonName: 'bosun-director-api', usage: 'client' });
    expect(await pingWith(lookalike)).toBe(403);
  });

  it('connects through the connector by VM address and port', async () => {
    const connector = new HttpAgentConnector({ caPem: ca.certPem, certPem: director.certPem, keyPem: director.keyPem, port });
    expect(await connector.connect({ agentId: 'a1', vmCid: 'vm-1', ip: '127.0.0.1' }).ping()).toBe('pong');
    expect(() => connector.connect({ agentId: 'a2', vmCid: 'vm-2', ip: null })).toThrow(/no IP address/);
    connector.close();
  });

  it('says which agent it could not reach', async () => {
    const dead = new HttpAgentClient({ agentId: 'gone', baseUrl: 'https://127.0.0.1:1', caPem: ca.certPem, certPem: director.certPem, keyPem: director.keyPem });
    await expect(dead.ping()).rejects.toMatchObject({ code: 'unavailable', message: expect.stringMatching(/agent gone at https:\/\/127\.0\.0\.1:1/i) as unknown });
  });
});
