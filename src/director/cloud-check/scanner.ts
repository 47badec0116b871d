/**
 * Cloud-check's scan: compares the director's records with the cloud and the agents, and lists
 * every difference as a problem (BOSH's types). It changes nothing.
 */
import type { Cloud } from '../../cloud/cloud.js';
import type { AgentConnector } from '../../common/contracts/agent-connector.js';
import type { Logger } from '../../common/logger.js';
import { errorMessage } from '../../common/errors.js';
import type { CckProblem } from '../../common/contracts/api.js';
import {
  instanceName,
  type HealthStore,
  type MonitoredDisk,
  type MonitoredInstance,
} from '../health/ports.js';
import { withDeadline } from '../../common/waiting.js';
import { RESOLUTIONS, resolutionsOf, type ProblemType } from './problems.js';

/** A problem with what the resolver needs to act on it. */
export interface ScannedProblem {
  problem: CckProblem;
  instance: MonitoredInstance | null;
  disk: MonitoredDisk | null;
  vmCid: string | null;
}

export interface ScannerDeps {
  store: Pick<HealthStore, 'listInstances' | 'orphanedDisks'>;
  cloud: Pick<Cloud, 'hasVm' | 'hasDisk' | 'getDisks' | 'listVms'>;
  agents: AgentConnector;
  logger: Logger;
  agentCallTimeoutMs: number;
}

export async function scanDeployment(
  deps: ScannerDeps,
  deployment: string,
  options: { includeUnknownVms: boolean },
): Promise<ScannedProblem[]> {
  const out: ScannedProblem[] = [];
  const add = (type: ProblemType, description: string, p: Omit<ScannedProblem, 'problem'>): void => {
    out.push({
      ...p,
      problem: {
        id: out.length + 1,
        type,
        description,
        instance: p.instance ? instanceName(p.instance) : null,
        resolutions: resolutionsOf(type),
        defaultResolution: RESOLUTIONS[type].default,
      },
    });
  };

  const instances = await deps.store.listInstances(deployment);
  const orphans = new Map((await deps.store.orphanedDisks(deployment)).map((d) => [d.diskCid, d]));
  for (const inst of instances) {
    const name = instanceName(inst);
    const active = inst.disks.filter((d) => d.active);
    const missingDisks = new Set<string>();
    for (const d of active) {
      if (!(await deps.cloud.hasDisk(d.diskCid))) {
        missingDisks.add(d.diskCid);
        add('missing_disk', `Disk ${d.diskCid} of ${name} is missing from the cloud`, {
          instance: inst,
          disk: d,
          vmCid: inst.vmCid,
        });
      }
    }
    for (const d of inst.disks.filter((x) => !x.active)) {
      add('inactive_disk', `Disk ${d.diskCid} is bound to ${name} but inactive`, {
        instance: inst,
        disk: d,
        vmCid: inst.vmCid,
      });
    }
    if (inst.vmCid === null) continue;
    const vmCid = inst.vmCid;
    if (!(await deps.cloud.hasVm(vmCid))) {
      add('missing_vm', `VM ${vmCid} of ${name} is missing from the cloud`, {
        instance: inst,
        disk: null,
        vmCid,
      });
      continue;
    }
    const attached = new Set(await deps.cloud.getDisks(vmCid));
    const known = new Set(inst.disks.map((d) => d.diskCid));
    for (const cid of attached) {
      const orphan = orphans.get(cid);
      if (orphan && !known.has(cid)) {
        add('inactive_disk', `Disk ${cid} is orphaned but still attached to VM ${vmCid} of ${name}`, {
          instance: inst,
          disk: { ...orphan, active: false },
          vmCid,
        });
      }
    }
    if (inst.agentId === null) continue;
    let mounted: string[];
    try {
      // Inside the try: an agent at an unknown address (it never sent a heartbeat) is unresponsive too.
      const agent = deps.agents.connect({ agentId: inst.agentId, vmCid, ip: inst.ip });
      await withDeadline(deps.agentCallTimeoutMs, `ping of agent ${inst.agentId}`, () => agent.ping());
      mounted = await withDeadline(deps.agentCallTimeoutMs, `list_disk of agent ${inst.agentId}`, () => agent.listDisk());
    } catch (err) {
      deps.logger.debug(`cloud-check: ${name}: ${errorMessage(err)}`);
      add('unresponsive_agent', `The agent of ${name} (VM ${vmCid}) is not responding`, {
        instance: inst,
        disk: null,
        vmCid,
      });
      continue;
    }
    for (const d of active) {
      if (missingDisks.has(d.diskCid)) continue;
      const isAttached = attached.has(d.diskCid);
      const isMounted = mounted.includes(d.diskCid);
      if (!isAttached || !isMounted) {
        add(
          'mount_info_mismatch',
          `Disk ${d.diskCid} of ${name} is ${isAttached ? '' : 'not '}attached to VM ${vmCid} (cloud) and ${isMounted ? '' : 'not '}mounted (agent)`,
          { instance: inst, disk: d, vmCid },
        );
      }
    }
  }

  const listVms = deps.cloud.listVms?.bind(deps.cloud);
  if (options.includeUnknownVms && listVms) {
    const owned = new Set(
      (await deps.store.listInstances()).map((i) => i.vmCid).filter((c): c is string => c !== null),
    );
    for (const cid of await listVms()) {
      if (!owned.has(cid))
        add('unknown_vm', `VM ${cid} exists in the cloud but no instance owns it`, {
          instance: null,
          disk: null,
          vmCid: cid,
        });
    }
  }
  return out;
}
