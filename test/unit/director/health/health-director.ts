/**
 * A real Director for the health tests: SQLite, the FakeCloud whose fake agents' heartbeats reach
 * director.recordHeartbeat, fast health timings (heartbeat 50 ms, agent timeout 300 ms).
 */
import { FakeCloud } from '../../../../src/cloud/fake/index.js';
import type { Director } from '../../../../src/director/director.js';
import { createTestDirector } from '../../../helpers/director-fixtures.js';

/** Which director the cloud's heartbeats go to; createHealthDirector sets it. */
export interface HeartbeatTarget {
  director?: Director;
}

/** A FakeCloud whose agents send their heartbeats to `target.director` (none until it is set). */
export function heartbeatingCloud(target: HeartbeatTarget): FakeCloud {
  return new FakeCloud({
    unresponsiveTimeoutMs: 100,
    onHeartbeat: (hb) => void target.director?.recordHeartbeat(hb).catch(() => undefined),
  });
}

/** A Director on `cloud`; from now on the cloud's heartbeats go to it. */
export async function createHealthDirector(
  cloud: FakeCloud,
  target: HeartbeatTarget,
  options: { databasePath?: string; startHealthMonitor: boolean; responders?: unknown[] },
): Promise<Director> {
  const { director } = await createTestDirector({
    cloudInstance: cloud,
    ...(options.databasePath === undefined ? {} : { databasePath: options.databasePath }),
    config: { agentWaitTimeoutMs: 1000 },
    health: {
      health: { heartbeat_interval: '50ms', agent_timeout: '300ms', analyze_interval: '25ms' },
      resurrector: { watch_timeout: '2s', agent_wait_timeout: '2s', vm_delete_timeout: '2s' },
      responders: options.responders ?? [],
    },
    startHealthMonitor: options.startHealthMonitor,
  });
  target.director = director;
  return director;
}
