/**
 * A local-cloud VM that boots the bosun stemcell: its own root (overlay over the unpacked
 * stemcell, pivot_root), the stemcell's agent and dockerd, settings through the File source.
 * Needs root, `npm run build` and a built stemcell (scripts/build-stemcell.sh).
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AGENT_PORT } from '../../src/common/contracts/agent-protocol.js';
import { issueCertificate, issueDirectorClientCertificate } from '../../src/common/pki.js';
import { HttpAgentClient } from '../../src/director/agent-client/http-agent-client.js';
import { openStemcellTarball, type StemcellManifest } from '../../src/stemcell/index.js';
import { createAgentVmEnv, type AgentVmEnv } from '../helpers/agent-vm-fixture.js';
import { builtStemcellFile } from '../helpers/built-stemcell.js';

const exec = promisify(execFile);

describe('a local-cloud VM boots the stemcell', () => {
  let env: AgentVmEnv;
  let stemcellCid: string;
  let manifest: StemcellManifest;
  let hostOnly: string;
  let vmCid: string;
  let agent: HttpAgentClient;

  beforeAll(async () => {
    const file = builtStemcellFile();
    env = await createAgentVmEnv();
    hostOnly = mkdtempSync(join(tmpdir(), 'bosun-host-only-'));
    const image = join(env.fx.dataDir, 'stemcell.image');
    const opened = await openStemcellTarball(file, image);
    manifest = opened.manifest;
    stemcellCid = await env.fx.cloud.createStemcell(image, manifest.cloudProperties);
    rmSync(image);
  }, 300_000);
  afterAll(async () => {
    await env?.cleanup();
    if (hostOnly) rmSync(hostOnly, { recursive: true, force: true });
  });

  let nextHost = 200 + Math.floor(Math.random() * 40);
  /** Creates a VM of the stemcell and waits until its agent answers ping. */
  async function createStemcellVm(diskCids: string[] = []): Promise<{ vmCid: string; agent: HttpAgentClient }> {
    const prefix = env.fx.hostIp.split('.').slice(0, 3).join('.');
    const ip = `${prefix}.${nextHost++}`;
    const agentId = `agent-stemcell-${ip.split('.').at(-1)}`;
    const cert = issueCertificate(env.ca, { commonName: agentId, ipAddresses: [ip], usage: 'both' });
    const directorCert = issueDirectorClientCertificate(env.ca);
    const started = Date.now();
    const { vmCid: cid } = await env.fx.cloud.createVm({
      agentId,
      stemcell: stemcellCid,
      cloudProperties: {},
      networks: { default: { ip, netmask: '255.255.255.0' } },
      diskCids,
      env: { directorUrl: env.director.url, caPem: env.ca.certPem, certPem: cert.certPem, keyPem: cert.keyPem, heartbeatIntervalMs: 1000 },
    });
    const client = new HttpAgentClient({ agentId, baseUrl: `https://${ip}:${AGENT_PORT}`, caPem: env.ca.certPem, certPem: directorCert.certPem, keyPem: directorCert.keyPem, requestTimeoutMs: 20_000, pollIntervalMs: 100 });
    const deadline = Date.now() + 60_000;
    let pong = '';
    while (Date.now() < deadline && pong !== 'pong') {
      pong = await client.ping().catch(() => '');
      if (pong !== 'pong') await new Promise((r) => setTimeout(r, 100));
    }
    const console = await exec('cat', [join(env.fx.cloud.vmDir(cid), 'ephemeral', 'vm-console.log')]).then((r) => r.stdout).catch(() => '');
    expect(pong, `agent did not answer; console: ${console}`).toBe('pong');
    process.stdout.write(`stemcell VM: create → ping ${Date.now() - started} ms\n`);
    return { vmCid: cid, agent: client };
  }

  it('runs the stemcell’s agent, which answers ping and sees only the stemcell’s files', async () => {
    ({ vmCid, agent } = await createStemcellVm());

    const version = await agent.runCommand('cat /var/vcap/bosh/etc/stemcell_version');
    expect(version.stdout.trim()).toBe(manifest.version);
    const os = await agent.runCommand('cat /var/vcap/bosh/etc/stemcell_operating_system');
    expect(os.stdout.trim()).toBe('debian-12');
    // A folder that exists only on the host is not there; the host's repository is not either.
    expect(existsSync(hostOnly)).toBe(true);
    expect((await agent.runCommand(`test -e ${hostOnly}`)).exitCode).not.toBe(0);
    expect((await agent.runCommand(`test -e ${env.fx.dataDir}`)).exitCode).not.toBe(0);
    // The agent is the stemcell's, on the stemcell's Node.
    const agentCmd = await agent.runCommand('cat /proc/$PPID/cmdline | tr "\\0" " "; echo; readlink /proc/1/exe');
    expect(agentCmd.stdout).toContain('/var/vcap/bosh/bosun/dist/src/agent/main.js');
    expect(agentCmd.stdout).toMatch(/tini/); // docker-init is Debian's tini
    // /sys is read-only, /dev holds only a VM's devices.
    expect((await agent.runCommand('touch /sys/x 2>&1; echo rc=$?')).stdout).toMatch(/Read-only|rc=1/);
    expect((await agent.runCommand('ls /dev')).stdout.split(/\s+/)).not.toContain('sda');
  }, 120_000);

  it('runs the stemcell’s dockerd, started by the agent', async () => {
    const deadline = Date.now() + 90_000;
    let info = { exitCode: 1, stdout: '', stderr: '' };
    while (Date.now() < deadline) {
      info = await agent.runCommand('docker -H unix:///var/vcap/sys/run/docker.sock info --format "{{.ServerVersion}} {{.DockerRootDir}}"');
      if (info.exitCode === 0) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(info.exitCode, info.stderr).toBe(0);
    expect(info.stdout).toContain('/var/vcap/data/docker');
  }, 120_000);

  it('mounts a persistent disk attached to the running VM; a new VM with the same disk finds the data', async () => {
    const diskCid = await env.fx.cloud.createDisk(64, {});
    const hint = await env.fx.cloud.attachDisk(vmCid, diskCid);
    await agent.mountDisk({ diskCid, hint, newDisk: true });
    expect((await agent.runCommand('echo kept > /var/vcap/store/data.txt && mount | grep -c " /var/vcap/store "')).stdout.trim()).toBe('1');
    // The host does not see the VM's mount.
    const hostMounts = await exec('cat', ['/proc/self/mounts']).then((r) => r.stdout);
    expect(hostMounts).not.toContain(hint.path + ' ');
    await agent.unmountDisk(diskCid);
    await env.fx.cloud.detachDisk(vmCid, diskCid);
    const old = vmCid;
    ({ vmCid, agent } = await createStemcellVm([diskCid]));
    await env.fx.cloud.deleteVm(old);
    const disks = await env.fx.cloud.getDisks(vmCid);
    expect(disks).toEqual([diskCid]);
    const settingsHint = (await env.fx.cloud.attachDisk(vmCid, diskCid));
    await agent.mountDisk({ diskCid, hint: settingsHint });
    expect((await agent.runCommand('cat /var/vcap/store/data.txt')).stdout.trim()).toBe('kept');
  }, 180_000);

  it('killing PID 1 loses the VM (every process of it ends)', async () => {
    const lost = await createStemcellVm();
    const pid1 = await env.fx.cloud.vmPid(lost.vmCid);
    expect(pid1).not.toBeNull();
    process.kill(pid1!, 'SIGKILL');
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline && (await env.fx.cloud.hasVm(lost.vmCid))) await new Promise((r) => setTimeout(r, 100));
    expect(await env.fx.cloud.hasVm(lost.vmCid)).toBe(false);
    expect(await lost.agent.ping().catch(() => 'gone')).toBe('gone');
    await env.fx.cloud.deleteVm(lost.vmCid);
  }, 120_000);

  it('refuses to delete the stemcell while the VM boots it; deleting the VM removes its root', async () => {
    await expect(env.fx.cloud.deleteStemcell(stemcellCid)).rejects.toThrow(new RegExp(`VMs ${vmCid} boot from it`));
    const dir = env.fx.cloud.vmDir(vmCid);
    expect(existsSync(join(dir, 'upper'))).toBe(true);
    await env.fx.cloud.deleteVm(vmCid);
    expect(existsSync(dir)).toBe(false);
    await env.fx.cloud.deleteStemcell(stemcellCid);
    expect(existsSync(join(env.fx.dataDir, 'stemcells', stemcellCid))).toBe(false);
  }, 60_000);
});
