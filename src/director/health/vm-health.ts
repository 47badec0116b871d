/**
 * The VM health of one deployment's instances: an instance without a VM, a VM the cloud no
 * longer has, an agent silent for longer than the heartbeat timeout. Each raises an alert (once
 * per episode) and is returned as unhealthy; an instance that was never created raises nothing.
 */
import type { Cloud } from '../../cloud/cloud.js';
import type { Logger } from '../../common/logger.js';
import { errorMessage } from '../../common/errors.js';
import type { AgentRegistry } from './agent-registry.js';
import { Severity, type AlertCenter } from './alerts.js';
import type { HealthConfig } from './config.js';
import { instanceName, type MonitoredInstance } from './ports.js';

/** no_vm: the instance has no VM at all (a recreate or resurrection interrupted by a crash, cck delete_vm_reference). */
export type UnhealthyProblem = 'unresponsive_agent' | 'missing_vm' | 'no_vm';

export interface UnhealthyInstance {
  instance: MonitoredInstance;
  problem: UnhealthyProblem;
}

export interface VmHealthDeps {
  cloud: Pick<Cloud, 'hasVm'>;
  alerts: AlertCenter;
  agents: AgentRegistry;
  config: Pick<HealthConfig, 'heartbeatTimeoutMs'>;
  logger: Logger;
}

const HAS_VM_CONCURRENCY = 16;

/**
 * An instance that never had a VM with something applied to it: a deploy bound it but stopped
 * before creating it (a failed canary, a cancelled deploy). It is "not yet created", not missing.
 */
export function neverCreated(i: Pick<MonitoredInstance, 'vmCid' | 'spec'>): boolean {
  return i.vmCid === null && i.spec === null;
}

export async function analyzeDeployment(deps: VmHealthDeps, list: readonly MonitoredInstance[], now: number): Promise<UnhealthyInstance[]> {
  const unhealthy: UnhealthyInstance[] = [];
  const withVm = list.filter((i) => i.vmCid !== null);
  const hasVm = new Map<string, boolean | null>();
  for (let k = 0; k < withVm.length; k += HAS_VM_CONCURRENCY) {
    await Promise.all(
      withVm.slice(k, k + HAS_VM_CONCURRENCY).map(async (i) => {
        try {
          hasVm.set(i.id, await deps.cloud.hasVm(i.vmCid as string));
        } catch (err) {
          // The cloud not answering says nothing about this VM; judge it by its heartbeats alone.
          deps.logger.warn(
            `could not ask the cloud whether VM ${i.vmCid} exists: ${errorMessage(err)}`,
          );
          hasVm.set(i.id, null);
        }
      }),
    );
  }
  for (const i of list) {
    const name = instanceName(i);
    const base = { deployment: i.deployment, instance: name };
    if (i.vmCid === null && neverCreated(i)) {
      // Not yet created (a deploy stopped before it, e.g. at a failed canary): nothing is lost,
      // nothing to alert on; the next deploy creates it.
      clearInstance(deps.alerts, i.id, null);
      continue;
    }
    if (i.vmCid === null) {
      // Outside a task's lock no instance is meant to be without a VM (a stopped one keeps its
      // VM too): it is resurrected like a missing VM, its containers started only if desired.
      clearInstance(deps.alerts, i.id, `no_vm:${i.id}`);
      unhealthy.push({ instance: i, problem: 'no_vm' });
      await deps.alerts.raise(
        {
          ...base,
          severity: Severity.error,
          category: 'instance_without_vm',
          title: 'Instance has no VM',
          summary: `${i.deployment} ${name} has no VM (an interrupted recreate or resurrection, or a deleted VM reference); with resurrection on it gets a new VM with its disks, otherwise run \`bosun -d ${i.deployment} recreate ${name}\` or deploy again.`,
        },
        { key: `no_vm:${i.id}` },
      );
      continue;
    }
    if (hasVm.get(i.id) === false) {
      // Keyed by VM: a replacement VM that goes missing too is a new condition, a new alert.
      const key = `missing_vm:${i.id}:${i.vmCid}`;
      clearInstance(deps.alerts, i.id, key);
      unhealthy.push({ instance: i, problem: 'missing_vm' });
      await deps.alerts.raise(
        {
          ...base,
          severity: Severity.critical,
          category: 'vm_missing',
          title: 'VM missing',
          summary: `VM ${i.vmCid} of ${i.deployment} ${name} no longer exists in the cloud.`,
        },
        { key },
      );
      continue;
    }
    const agentId = i.agentId;
    if (agentId === null) continue;
    // An agent the monitor has not heard of yet (director just started, VM just created) gets a full timeout of grace.
    const silentMs = now - deps.agents.expect(agentId, now);
    if (silentMs >= deps.config.heartbeatTimeoutMs) {
      const key = `unresponsive:${i.id}:${agentId}`;
      clearInstance(deps.alerts, i.id, key);
      unhealthy.push({ instance: i, problem: 'unresponsive_agent' });
      await deps.alerts.raise(
        {
          ...base,
          severity: Severity.critical,
          category: 'agent_unresponsive',
          title: 'Agent unresponsive',
          summary: `The agent ${agentId} on VM ${i.vmCid} (${i.deployment} ${name}) has not sent a heartbeat for ${Math.round(silentMs / 1000)} s (timeout ${Math.round(deps.config.heartbeatTimeoutMs / 1000)} s).`,
        },
        { key },
      );
      continue;
    }
    clearInstance(deps.alerts, i.id, null);
  }
  return unhealthy;
}

/** Clears an instance's VM-health conditions except the one keyed `keep`. */
function clearInstance(alerts: AlertCenter, instanceId: string, keep: string | null): void {
  for (const k of alerts.activeKeys()) {
    if (k === keep) continue;
    if (
      k === `no_vm:${instanceId}` ||
      k.startsWith(`missing_vm:${instanceId}:`) ||
      k.startsWith(`unresponsive:${instanceId}:`)
    )
      alerts.clear(k);
  }
}

