/**
 * `npm run bench -- vm`: time to create a local VM until its agent answers ping; create + attach +
 * mount a 1 GiB disk; the agent's RSS when idle with 3 containers.
 */
import { join } from 'node:path';
import { createAgentVmEnv, IMAGES_DIR } from '../test/helpers/agent-vm-fixture.js';
import { buildSpec, httpServerCmd } from '../test/helpers/instance-spec-builder.js';
import { AGENT_PORT } from '../src/common/contracts/agent-protocol.js';
import { HttpAgentClient } from '../src/director/agent-client/http-agent-client.js';
import { issueAgentCertificates, issueDirectorClientCertificate } from '../src/common/pki.js';
import { summary, sleep } from './bench-util.js';

export async function run(args: string[]): Promise<unknown> {
  const trials = Number(args[0] ?? 5);
  const env = await createAgentVmEnv();
  try {
    const client = issueDirectorClientCertificate(env.ca);
    const prefix = env.fx.hostIp.split('.').slice(0, 3).join('.');
    const createToPing: number[] = [];
    for (let i = 0; i < trials; i++) {
      const ip = `${prefix}.${200 + i}`;
      const agentCert = issueAgentCertificates(env.ca, `bench-${i}`, { ipAddresses: [ip] });
      const t0 = Date.now();
      const { vmCid } = await env.fx.cloud.createVm({
        agentId: `bench-${i}`,
        stemcell: 'local',
        cloudProperties: {},
        networks: { default: { ip, netmask: '255.255.255.0' } },
        diskCids: [],
        env: { directorUrl: env.director.url, caPem: env.ca.certPem, certPem: agentCert.certPem, clientCertPem: agentCert.clientCertPem, keyPem: agentCert.keyPem, heartbeatIntervalMs: 10_000 },
      });
      const agent = new HttpAgentClient({ agentId: `bench-${i}`, baseUrl: `https://${ip}:${AGENT_PORT}`, caPem: env.ca.certPem, certPem: client.certPem, keyPem: client.keyPem, requestTimeoutMs: 1000 });
      for (;;) {
        if (await agent.ping().then(() => true, () => false)) break;
        await sleep(10);
      }
      createToPing.push(Date.now() - t0);
      await env.fx.cloud.deleteVm(vmCid);
    }

    const vm = await env.createVm();
    const t1 = Date.now();
    const diskCid = await env.fx.cloud.createDisk(1024, {});
    const hint = await env.fx.cloud.attachDisk(vm.vmCid, diskCid);
    await vm.agent.mountDisk({ diskCid, hint, newDisk: true });
    const diskMs = Date.now() - t1;

    await vm.loadImage(join(IMAGES_DIR, 'busybox.tar'));
    await vm.agent.apply(
      buildSpec([
        { name: 'one', cmd: httpServerCmd(8001), ports: ['18001:8001'] },
        { name: 'two', cmd: httpServerCmd(8002), dependsOn: ['one'] },
        { name: 'three', cmd: httpServerCmd(8003), dependsOn: ['two'] },
      ]),
    );
    await sleep(5000);
    const agentPid = (await vm.inVm(['pgrep', '-x', 'node'])).trim();
    const status = await vm.inVm(['cat', `/proc/${agentPid}/status`]);
    const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
    return {
      createVmUntilPing: summary(createToPing),
      createAttachMount1GiBDiskMs: diskMs,
      agentIdleRssMiB: Math.round((rssKb / 1024) * 10) / 10,
    };
  } finally {
    await env.cleanup();
  }
}
