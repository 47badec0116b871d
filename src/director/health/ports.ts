/**
 * What the health monitor, the resurrector and cloud-check need from the rest of the director.
 * They are small on purpose: the director wires them to the store, the task runner and the
 * deployer (src/director/self-healing.ts), and tests wire them to in-memory fakes.
 */
import type { Alert } from '../../common/contracts/api.js';
import type { DiskHint } from '../../common/contracts/disk-hint.js';
import type { InstanceSpec } from '../../common/contracts/instance-spec.js';

export interface MonitoredDisk {
  diskCid: string;
  sizeMiB: number;
  /** False for a disk that is still bound to the instance but not its active one (BOSH's inactive disk). */
  active: boolean;
  /** The cloud's hint from the last attach, when known. */
  hint: DiskHint | null;
}

/** One instance as the director wants it (DB view). */
export interface MonitoredInstance {
  id: string;
  deployment: string;
  group: string;
  index: number;
  desired: 'started' | 'stopped';
  vmCid: string | null;
  agentId: string | null;
  ip: string | null;
  /** Every disk bound to the instance, active or not. */
  disks: MonitoredDisk[];
  /** The last applied spec (what a replacement VM gets); null when nothing was applied yet. */
  spec: InstanceSpec | null;
  /**
   * When its deployment was last deployed successfully (ISO time); null: never, so there is no
   * manifest to recreate it from and the resurrector leaves it alone. Undefined: unknown (treated
   * as deployed). A new value also means the operator deployed: resurrection backoffs are reset.
   */
  deployedAt?: string | null;
}

/** `group/index`, the way an instance is named in alerts, events and the CLI. */
export function instanceName(i: Pick<MonitoredInstance, 'group' | 'index'>): string {
  return `${i.group}/${i.index}`;
}

/** The director's state as the health parts read and repair it. */
export interface HealthStore {
  listInstances(deployment?: string): Promise<MonitoredInstance[]>;
  /** Records which VM an instance runs on now; null when it has none. */
  setInstanceVm(
    instanceId: string,
    vm: { vmCid: string; agentId: string; ip: string | null } | null,
  ): Promise<void>;
  setDiskHint(diskCid: string, hint: DiskHint | null): Promise<void>;
  /** Forgets a disk record (the disk itself is not touched). */
  deleteDiskRecord(diskCid: string): Promise<void>;
  /** Makes `diskCid` an active disk of the instance (it may have been orphaned). */
  activateDisk(diskCid: string, instanceId: string): Promise<void>;
  /** Orphaned disks of a deployment (cloud-check reports those still attached to one of its VMs). */
  orphanedDisks(deployment: string): Promise<MonitoredDisk[]>;
  /** Global flag and per-deployment overrides (null: follow the global flag). */
  resurrectionSettings(): Promise<{ global: boolean; deployments: Record<string, boolean | null> }>;
}

/**
 * Where the meltdown stop is kept, so that a restarted director does not resume mass resurrection
 * on its own: deployment → when its meltdown tripped (ISO time).
 */
export interface MeltdownStore {
  loadMeltdowns(): Promise<Record<string, string>>;
  saveMeltdowns(meltdowns: Record<string, string>): Promise<void>;
}

export interface AlertStore {
  saveAlert(alert: Alert): Promise<void>;
  listAlerts(options: { deployment?: string; limit?: number }): Promise<Alert[]>;
}

/** A step of a task's event log, as the CLI streams it. */
export interface TaskStep {
  stage: string;
  step: string;
  state: 'started' | 'finished' | 'failed';
  error?: string;
}

export interface TaskHandle {
  id: number;
  /** Settles when the task ended (never rejects; the task's own state says how it ended). */
  done: Promise<void>;
}

/** The task runner: every change to the world is a task holding its deployment's lock. */
export interface TaskRunnerPort {
  /** Deployments a task currently holds locked (the monitor leaves those alone, as BOSH does). */
  lockedDeployments(): Promise<Set<string>>;
  /**
   * Queues a task that holds the deployment lock while `body` runs. The body's return value is
   * stored as the task result (JSON); a throw marks the task failed.
   */
  submit(
    options: { deployment: string; description: string; user: string },
    /** `signal` aborts when the task must stop (cancelled, or it lost its lock). */
    body: (log: (step: TaskStep) => void, signal?: AbortSignal) => Promise<unknown>,
  ): Promise<TaskHandle>;
}

export type Clock = () => number;
