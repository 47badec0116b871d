/**
 * The cloud interface (BOSH CPI v2 semantics). A Cloud owns VMs and persistent disks and nothing
 * else: the director calls it, agents never do. Implementations live in one folder each
 * (local/, fake/); invariants shared by all of them (fencing, call logging) live once
 * in guarded-cloud.ts.
 */
import type { DiskHint } from '../common/contracts/disk-hint.js';

/** Network settings of a VM as the director asks for them and as the cloud reports them back. */
export interface VmNetwork {
  /** Address of the VM on the network; empty on request means "the cloud chooses". */
  ip: string;
  netmask: string;
  gateway?: string;
  dns?: string[];
  /** BOSH's network type: manual (the director chose `ip`), dynamic (the cloud does), vip. Unset: manual when `ip` is set. */
  type?: 'manual' | 'dynamic' | 'vip';
  /** BOSH's `default: [dns, gateway]`: which network gives the VM its resolvers and default route. */
  default?: string[];
  cloudProperties?: Record<string, unknown>;
}
export type VmNetworks = Record<string, VmNetwork>;

/**
 * What the director hands the cloud for the agent of a new VM (BOSH's `env`). The cloud writes it,
 * together with what only the cloud knows (vm cid, addresses, paths), into the agent's settings.
 */
export interface AgentEnv {
  directorUrl: string;
  /** PEM of the director's CA: the agent trusts the director and its registry with it. */
  caPem: string;
  /** The agent's own server certificate and key, signed by the director's CA. */
  certPem: string;
  keyPem: string;
  /** The agent's client certificate (same key) for its heartbeats and alerts; certPem when absent. */
  clientCertPem?: string;
  /** The common name of the director's client certificate, the only client the agent accepts. */
  directorClientName?: string;
  heartbeatIntervalMs: number;
  /** host:port of the director's image registry; every VM's dockerd uses it as its registry mirror. */
  registryHost?: string;
  /** Anything else the director wants the agent to know. */
  extra?: Record<string, unknown>;
}

export interface CreateVmRequest {
  agentId: string;
  stemcell: string;
  cloudProperties: Record<string, unknown>;
  networks: VmNetworks;
  diskCids: string[];
  env: AgentEnv;
  /** The stemcell's api_version (its manifest), when known: an external CPI gets it in its context. */
  stemcellApiVersion?: number;
}

export interface CreateVmResult {
  vmCid: string;
  networks: VmNetworks;
}


export interface VmMetadata {
  director?: string;
  deployment?: string;
  instanceGroup?: string;
  index?: string;
  id?: string;
  name?: string;
  createdAt?: string;
  [key: string]: string | undefined;
}

export interface CloudInfo {
  name: string;
  apiVersion: number;
  stemcellFormats: string[];
  /** True when resizeDisk grows a disk in place (no copy). */
  supportsResizeDisk: boolean;
}

export interface Cloud {
  info(): Promise<CloudInfo>;
  /**
   * BOSH create_stemcell: takes the stemcell's image (the `image` file of the tarball, already
   * checked against its sha1) and its cloud_properties; returns the stemcell cid createVm is given.
   * The cloud owns the image from then on; the caller may remove imagePath afterwards.
   */
  createStemcell(imagePath: string, cloudProperties: Record<string, unknown>): Promise<string>;
  /** BOSH delete_stemcell: frees what createStemcell made. Deleting a stemcell that is gone is not an error. */
  deleteStemcell(stemcellCid: string): Promise<void>;
  createVm(request: CreateVmRequest): Promise<CreateVmResult>;
  /** Deletes the VM and frees what it held (disks stay, detached). Deleting a VM that is gone is not an error. */
  deleteVm(vmCid: string): Promise<void>;
  hasVm(vmCid: string): Promise<boolean>;
  rebootVm(vmCid: string): Promise<void>;
  setVmMetadata(vmCid: string, metadata: VmMetadata): Promise<void>;
  createDisk(sizeMiB: number, cloudProperties: Record<string, unknown>, vmCid?: string): Promise<string>;
  deleteDisk(diskCid: string): Promise<void>;
  attachDisk(vmCid: string, diskCid: string): Promise<DiskHint>;
  detachDisk(vmCid: string, diskCid: string): Promise<void>;
  hasDisk(diskCid: string): Promise<boolean>;
  /** Disk cids currently attached to the VM. */
  getDisks(vmCid: string): Promise<string[]>;
  /** Grows (or shrinks, where supported) a detached disk in place; throws NotSupportedError otherwise. */
  resizeDisk(diskCid: string, newSizeMiB: number): Promise<void>;
  /**
   * Optional (no BOSH CPI has it): cids of every VM this cloud holds for this director. Where it
   * exists, the health monitor and cloud-check find VMs no instance owns (unknown_vm).
   */
  listVms?(): Promise<string[]>;
  /**
   * Optional: the VM the disk is attached to, or null (DiskNotFoundError when the disk is unknown).
   * GuardedCloud enforces fencing with it; for a cloud without it, GuardedCloud asks getDisks of
   * every VM it knows (listVms, the VMs created through it, and GuardedCloudOptions.knownVmCids).
   */
  findDiskAttachment?(diskCid: string): Promise<string | null>;
}

/** Base of every cloud error; `okToRetry` says whether the same call may succeed when repeated. */
export class CloudError extends Error {
  readonly okToRetry: boolean;
  readonly type: string = 'CloudError';

  constructor(message: string, options: { okToRetry?: boolean; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.okToRetry = options.okToRetry ?? false;
  }
}

export class VmNotFoundError extends CloudError {
  override readonly type = 'VMNotFound';
  constructor(vmCid: string, options?: { cause?: unknown }) {
    super(`VM ${vmCid} does not exist in the cloud`, options);
  }
}

export class DiskNotFoundError extends CloudError {
  override readonly type = 'DiskNotFound';
  constructor(diskCid: string, options?: { cause?: unknown }) {
    super(`disk ${diskCid} does not exist in the cloud`, options);
  }
}

export class DiskNotAttachedError extends CloudError {
  override readonly type = 'DiskNotAttached';
  constructor(vmCid: string, diskCid: string, options?: { cause?: unknown }) {
    super(`disk ${diskCid} is not attached to VM ${vmCid}`, options);
  }
}

export class NotSupportedError extends CloudError {
  override readonly type: string = 'NotSupported';
  constructor(what: string, options?: { cause?: unknown }) {
    super(`${what} is not supported by this cloud`, options);
  }
}

export class VmCreationFailedError extends CloudError {
  override readonly type = 'VMCreationFailed';
}

/** A stemcell the cloud does not have (createVm with an unknown stemcell cid). */
export class StemcellNotFoundError extends CloudError {
  override readonly type = 'CloudError';
  constructor(stemcellCid: string) {
    super(`stemcell ${stemcellCid} does not exist in the cloud; upload it again with \`bosun upload-stemcell FILE.tgz\``);
  }
}

export class NoDiskSpaceError extends CloudError {
  override readonly type = 'NoDiskSpace';
}

/** Raised when attaching a disk that is attached to another VM (the fencing invariant). */
export class DiskAttachedElsewhereError extends CloudError {
  override readonly type = 'CloudError';
  constructor(diskCid: string, attachedTo: string, wanted: string) {
    super(
      `refusing to attach disk ${diskCid} to VM ${wanted}: it is still attached to VM ${attachedTo}; ` +
        `delete or detach from ${attachedTo} first (a persistent disk is attached to at most one VM)`,
    );
  }
}
