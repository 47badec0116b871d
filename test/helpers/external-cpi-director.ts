/**
 * A director fixture on an external CPI (bosun-local-cpi, configured with the fixture's cloud dir,
 * bridge and subnet plus the test's own CPI properties), and resurrection through it: the CPI keeps
 * its local-cloud records in the director fixture's cloud dir, so the test kills the VM's PID 1
 * found there, then waits for the resurrector's new VM to run with an address and for the
 * resurrection task to end (it holds the deployment's lock a moment after the instance runs again).
 */
import { stringify } from 'yaml';
import { LocalCloud } from '../../src/cloud/local/local-cloud.js';
import type { InstanceInfo, TaskInfo } from '../../src/common/contracts/api.js';
import { startDirectorFixture, type DirectorFixture } from './director-fixture.js';
import { assertLocalCpiBuilt, builtLocalCpi } from './local-cpi.js';
import { killVm } from './vm-faults.js';
import { waitUntil } from './waits.js';

/** The director with `cloud: {type: external, cpi: bosun-local-cpi}`, fast health checks, redis uploaded. */
export async function startExternalCpiDirector(properties: Record<string, unknown> = {}): Promise<DirectorFixture> {
  assertLocalCpiBuilt();
  return startDirectorFixture({
    images: ['redis'],
    extraConfig: ({ fx, cloudDir }) =>
      stringify({
        cloud: {
          type: 'external',
          cpi: process.execPath,
          cpi_args: [builtLocalCpi],
          properties: { data_dir: cloudDir, bridge: fx.bridgeName, subnet: fx.subnet, ...properties },
        },
        health: { heartbeat_interval: '500ms', agent_timeout: '5s', analyze_interval: '500ms' },
      }),
  });
}

export async function resurrectKilledVm(
  d: DirectorFixture,
  deployment: string,
  before: Pick<InstanceInfo, 'vmCid'>,
  timeoutMs = 180_000,
): Promise<{ after: InstanceInfo; view: LocalCloud }> {
  if (before.vmCid === null || before.vmCid === undefined) throw new Error('the instance has no VM to kill');
  const oldVm = before.vmCid;
  const view = await LocalCloud.create({ dataDir: d.cloudDir, bridgeName: d.fx.bridgeName, subnet: d.fx.subnet });
  await killVm(view, oldVm);
  const after = await waitUntil(
    'the instance running on a new VM with an address',
    async () => {
      const [i] = await d.json<InstanceInfo[]>('-d', deployment, 'instances');
      return i?.vmCid && i.vmCid !== oldVm && i.ip && i.state === 'running' ? i : undefined;
    },
    timeoutMs,
  );
  await waitUntil(
    'the resurrection task to end',
    async () => ((await d.json<TaskInfo[]>('-d', deployment, 'tasks')).every((t) => !['queued', 'processing', 'cancelling'].includes(t.state)) ? true : undefined),
    timeoutMs,
  );
  return { after, view };
}
