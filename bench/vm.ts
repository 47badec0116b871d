/**
 * `npm run bench -- vm`: time to create a local VM until its agent answers ping (host-binaries
 * boot and stemcell boot, which needs a built stemcell); create + attach +
 * mount a 1 GiB disk; the agent's RSS when idle with 3 containers.
 */
import { join } from 'node:path';
import { createAgentVmEnv, IMAGES_DIR } from '../test/helpers/agent-vm-fixture.js';
import { buildSpec, httpServerCmd } from '../test/helpers/instance-spec-builder.js';
import { AGENT_PORT } from '../src/common/contracts/agent-protocol.js';
import { HttpAgentClient } from '../src/director/agent-client/http-agent-client.js';
import { issueAgentCertificates, issueDirectorClientCertificate } from '../src/common/pki.js';
import { summary, sleep } from './bench-util.js';
import { rm } from 'node:fs/promises';
import { builtStemcellFile } from '../test/helpers/built-stemcell.js';
import { openStemcellTarball } from '../src/stemcell/stemcell-tarball.js';

export async function run(args: string[]): Promise<unknown> {
  const trials = Number(args[0] ?? 5);
  const env = await createAgentVmEnv();
  try {
    const client = issueDirectorClientCertificate(env.ca);
    const prefix = env.fx.hostIp.split('.').slice(0, 3).join('.');
    // The same loop for the host-binaries boot and (when scripts/build-stemcell.sh built one) the stemcell boot.
    const image = join(env.fx.dataDir, 'bench-stemcell.image');
    const opened = await openStemcellTarball(builtStemcellFile(), image);
    const stemcellCid = await env.fx.cloud.createStemcell(image, opened.manifest.cloudProperties);
    await rm(image, { force: true });
    const stemcellCreateToPing: number[] = [];
    const createToPing: number[] = [];
    for (let i = 0; i < trials * 2; i++) {
      const onStemcell = i >= trials;
      const ip = `${prefix}.${200 + i}`;
      const agentCert = issueAgentCertificates(env.ca, `bench-${i}`, { ipAddresses: [ip] });
      const t0 = Date.now();
      const { vmCid } = await env.fx.cloud.createVm({
        agentId: `bench-${i}`,
        stemcell: onStemcell ? stemcellCid : 'local',
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
      (onStemcell ? stemcellCreateToPing : createToPing).push(Date.now() - t0);
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
      stemcellCreateVmUntilPing: summary(stemcellCreateToPing),
      createAttachMount1GiBDiskMs: diskMs,
      agentIdleRssMiB: Math.round((rssKb / 1024) * 10) / 10,
    };
  } finally {
    await env.cleanup();
  }
}
