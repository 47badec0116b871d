import { randomBytes } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { AGENT_PORT } from '../../common/contracts/agent-protocol.js';
import { STEMCELL_VM_PATHS, type AgentSettings } from '../../common/contracts/agent-settings.js';
import type { Logger } from '../../common/logger.js';
import {
  CloudError,
  DiskAttachedElsewhereError,
  DiskNotAttachedError,
  DiskNotFoundError,
  NoDiskSpaceError,
  NotSupportedError,
  VmCreationFailedError,
  VmNotFoundError,
  type Cloud,
  type CloudInfo,
  type CreateVmRequest,
  type CreateVmResult,
  type VmMetadata,
} from '../cloud.js';
import { checkNewDiskSize, checkResizeInPlace } from '../disk-rules.js';
import type { DiskHint } from '../../common/contracts/disk-hint.js';
import { removeVmCgroups } from './cgroups.js';
import { compileLocalCloudConfig, type LocalCloudConfig, type LocalCloudOptions } from './config.js';
import { ipToNumber, numberToIp } from './ip.js';
import { attachLoop, busyLoopDevicesOf, detachLoops, loopDevicesOf, waitUntilLoopsFree } from './loop-devices.js';
import { Mutex } from '../../common/mutex.js';
import { FileLock, type CriticalSection } from './file-lock.js';
import {
  addVmDefaultRoute,
  createVmNetwork,
  deleteVmNetwork,
  ensureBridge,
  hostVethName,
  netnsExists,
  netnsName,
} from './network.js';
import { isAlive } from './processes.js';
import { CloudFiles, writeJson, type DiskRecord, type VmRecord } from './store.js';
import { killNetnsProcesses, killVm, launchVm, vmPaths } from './vm-process.js';
import { removeStemcell, unpackStemcell } from './stemcells.js';
import { boshSettingsFor, isBoshSettingsDocument, withPersistentDisks } from './bosh-settings-file.js';
import {
  DIRECTORY_DISKS_IN_VM,
  attachDirectoryDisk,
  attachedDiskDir,
  createDirectoryDisk,
  deleteDirectoryDisk,
  detachDirectoryDisk,
  directoryDiskAttached,
  directoryDiskExists,
  vmMountsOfDirectoryDisk,
} from './directory-disks.js';
import {
  exposeLoopDevice,
  hideLoopDevice,
  launchStemcellVm,
  prepareStemcellVmDirs,
  stemcellVmPaths,
} from './stemcell-vm.js';

const MiB = 1024 * 1024;

/**
 * The embedded cloud: one Linux host (root) plays the IaaS. A VM is a network namespace on a bridge
 * plus a process tree with its own PID and mount namespaces; a disk is a sparse file attached as a
 * loop device. All state lives in files under dataDir, so a new LocalCloud on the same dataDir finds
 * its VMs and disks again.
 */
export class LocalCloud implements Cloud {
  private readonly files: CloudFiles;
  private readonly logger: Logger;
  /**
   * One lock for everything that reads-then-writes shared records (addresses, disk attachment),
   * across processes when the data dir is shared (bosun-local-cpi).
   */
  private readonly lock: CriticalSection;

  private constructor(readonly config: LocalCloudConfig) {
    this.files = new CloudFiles(config.dataDir);
    this.lock = config.sharedDataDir ? new FileLock(path.join(config.dataDir, 'cloud.lock')) : new Mutex();
    this.logger = config.logger.child({ component: 'local-cloud' });
  }

  static async create(options: LocalCloudOptions): Promise<LocalCloud> {
    const config = compileLocalCloudConfig(options);
    if (process.getuid?.() !== 0) {
      throw new CloudError(
        'the local cloud needs root (network namespaces, loop devices, mounts): run the director as root',
      );
    }
    const cloud = new LocalCloud(config);
    await cloud.files.init();
    await cloud.lock.run(() => ensureBridge(config.bridgeName, config.subnet));
    // /etc/docker is the mount point of each VM's private /etc/docker.
    await fs.mkdir('/etc/docker', { recursive: true });
    return cloud;
  }

  /** Address of the host on the VM network: where the director and the registry listen. */
  get hostIp(): string {
    return this.config.subnet.gateway;
  }

  /** The VM's directory on the host (`<dataDir>/vms/<cid>`). */
  vmDir(vmCid: string): string {
    return this.files.vmDir(vmCid);
  }

  diskFile(diskCid: string): string {
    return this.files.diskFile(diskCid);
  }

  /** The host PID of the VM's PID 1 (for `nsenter -t <pid> -m -n -p`), or null when it is not running. */
  async vmPid(vmCid: string): Promise<number | null> {
    if (!isCid(vmCid)) return null;
    const vm = await this.files.readVm(vmCid);
    if (!vm || vm.pid1 === null || !(await isAlive(vm.pid1, vm.pid1StartTime))) return null;
    return vm.pid1;
  }

  async listVmCids(): Promise<string[]> {
    return (await this.files.listVms()).map((v) => v.cid).sort();
  }

  /** Every VM this cloud holds (from its files). */
  async listVms(): Promise<string[]> {
    return this.listVmCids();
  }

  async listDiskCids(): Promise<string[]> {
    return (await this.files.listDisks()).map((d) => d.cid);
  }

  async info(): Promise<CloudInfo> {
    return { name: 'local', apiVersion: 2, stemcellFormats: ['general-tar', 'warden-tar', 'local-host'], supportsResizeDisk: this.config.diskKind !== 'directory' };
  }

  async createStemcell(imagePath: string, cloudProperties: Record<string, unknown>): Promise<string> {
    const cid = await unpackStemcell(this.files, imagePath, cloudProperties, this.config.stemcellCacheDir);
    this.logger.info('stemcell created', { stemcellCid: cid });
    return cid;
  }

  async deleteStemcell(stemcellCid: string): Promise<void> {
    if (!isCid(stemcellCid)) return;
    await this.lock.run(() => removeStemcell(this.files, stemcellCid));
    this.logger.info('stemcell deleted', { stemcellCid });
  }

  /** The unpacked root filesystem of a stemcell, or null when this cloud does not have it. */
  async stemcellRootfs(stemcellCid: string): Promise<string | null> {
    const record = isCid(stemcellCid) ? await this.files.readStemcell(stemcellCid) : null;
    if (record === null) return null;
    return record.rootfs ?? this.files.stemcellRootfs(stemcellCid);
  }

  async createVm(request: CreateVmRequest): Promise<CreateVmResult> {
    const cid = `vm-${randomBytes(6).toString('hex')}`;
    // One address per VM here: the one the director allocated (a manual network's), else the first network's.
    const entries = Object.entries(request.networks);
    const [netName, wanted] = entries.find(([, n]) => n.ip !== '' && n.type !== 'vip') ?? entries[0] ?? ['default', undefined];
    const log = this.logger.child({ vmCid: cid, agentId: request.agentId });
    // The bridge may have been removed behind our back (an operator, a host network reset).
    await this.lock.run(() => ensureBridge(this.config.bridgeName, this.config.subnet));
    // A stemcell this cloud holds boots from its own root; any other name keeps the host-binaries boot.
    const bootStemcell = (await this.stemcellRootfs(request.stemcell)) !== null;
    if (this.config.agentSettings === 'bosh' && !bootStemcell) {
      throw new VmCreationFailedError(
        `could not create a VM for agent ${request.agentId}: BOSH-format agent settings (agent_settings: bosh) need a stemcell VM (they give a stemcell VM's paths), and ${request.stemcell} is not a stemcell this cloud holds; upload a stemcell or use agent_settings: bosun`,
      );
    }
    let vm: VmRecord;
    try {
      vm = await this.lock.run(async () => {
        const ip = await this.allocateIp(wanted?.ip);
        const record: VmRecord = {
          cid,
          ...(bootStemcell ? { stemcellCid: request.stemcell } : {}),
          agentId: request.agentId,
          ip,
          hostVeth: hostVethName(cid),
          pid1: null,
          pid1StartTime: null,
          metadata: {},
          createdAt: new Date().toISOString(),
        };
        await fs.mkdir(this.vmDir(cid), { recursive: true });
        await this.files.writeVm(record);
        return record;
      });
    } catch (err) {
      throw new VmCreationFailedError(
        `could not create a VM for agent ${request.agentId}: ${messageOf(err)}`,
        {
          okToRetry: false,
          cause: err,
        },
      );
    }
    try {
      const root = this.vmDir(cid);
      for (const sub of ['ephemeral', 'run', 'store', 'migration', 'etc-docker']) {
        await fs.mkdir(path.join(root, sub), { recursive: true });
      }
      if (bootStemcell) await prepareStemcellVmDirs(root);
      // Any accidental DNS lookup inside the VM fails at once instead of waiting on a timeout.
      await fs.writeFile(path.join(root, 'resolv.conf'), 'nameserver 127.0.0.1\n');
      await createVmNetwork(cid, vm.ip, this.config.subnet, this.config.bridgeName);
      if (!this.config.reportVmAddress) await addVmDefaultRoute(cid, this.config.subnet);
      const disks: Record<string, DiskHint> = {};
      for (const diskCid of request.diskCids) {
        disks[diskCid] = await this.attachDisk(cid, diskCid);
      }
      await this.writeSettings(vm, request, disks);
      const launched = await this.launch(vm);
      vm.pid1 = launched.pid1;
      vm.pid1StartTime = launched.pid1StartTime;
      await this.files.writeVm(vm);
      log.info('VM created', { ip: vm.ip, pid1: vm.pid1, netns: netnsName(cid) });
    } catch (err) {
      log.warn('VM creation failed; removing what was created', { error: messageOf(err) });
      await this.deleteVm(cid).catch((cleanupErr: unknown) =>
        log.error('could not remove the half-created VM', { error: messageOf(cleanupErr) }),
      );
      throw new VmCreationFailedError(
        `could not create VM ${cid} for agent ${request.agentId}: ${messageOf(err)}`,
        {
          okToRetry: true,
          cause: err,
        },
      );
    }
    if (!this.config.reportVmAddress) return { vmCid: cid, networks: { [netName]: { ip: '', netmask: this.config.subnet.netmask, type: 'dynamic' } } };
    return { vmCid: cid, networks: { [netName]: { ip: vm.ip, netmask: this.config.subnet.netmask } } };
  }

  async deleteVm(vmCid: string): Promise<void> {
    if (!isCid(vmCid)) return; // not a cid this cloud could have made: nothing of it exists
    const vm = await this.files.readVm(vmCid);
    const root = this.vmDir(vmCid);
    if (!vm && !existsSync(root) && !netnsExists(vmCid)) return;
    await killVm(vmCid, vm?.pid1 ?? null, vm?.pid1StartTime ?? null);
    if (netnsExists(vmCid)) await killNetnsProcesses(vmCid);
    await this.lock.run(async () => {
      for (const disk of await this.files.listDisks()) {
        if (disk.attachedTo !== vmCid) continue;
        if (disk.kind === 'directory') {
          // Out of the VM's directory before it is removed: the disk outlives the VM.
          await detachDirectoryDisk(this.files.disksDir, root, disk.cid);
          await this.files.writeDisk({ ...disk, attachedTo: null, loopDevice: null });
          continue;
        }
        // The VM is gone, so its mounts go too: give the kernel a moment to release them before
        // the detach, so that the disk is really free when it is attached elsewhere.
        const busy = await waitUntilLoopsFree(this.diskFile(disk.cid), 10_000);
        if (busy.length > 0)
          this.logger.warn('a deleted VM\'s disk device is still in use; detaching it anyway (the kernel frees it once released)', { vmCid, diskCid: disk.cid, devices: busy });
        await detachLoops(this.diskFile(disk.cid));
        await this.files.writeDisk({ ...disk, attachedTo: null, loopDevice: null });
      }
    });
    await deleteVmNetwork(vmCid);
    const remaining = await removeVmCgroups(vmCid);
    if (remaining.length > 0) {
      this.logger.warn('cgroup directories of a deleted VM could not be removed', { vmCid, remaining });
    }
    await fs.rm(root, { recursive: true, force: true });
    this.logger.info('VM deleted', { vmCid });
  }

  async hasVm(vmCid: string): Promise<boolean> {
    return (await this.vmPid(vmCid)) !== null && netnsExists(vmCid);
  }

  async rebootVm(vmCid: string): Promise<void> {
    const vm = await this.requireVm(vmCid);
    await killVm(vmCid, vm.pid1, vm.pid1StartTime);
    await removeVmCgroups(vmCid, 1000);
    if (!netnsExists(vmCid)) {
      await createVmNetwork(vmCid, vm.ip, this.config.subnet, this.config.bridgeName);
      if (!this.config.reportVmAddress) await addVmDefaultRoute(vmCid, this.config.subnet);
    }
    const launched = await this.launch(vm);
    vm.pid1 = launched.pid1;
    vm.pid1StartTime = launched.pid1StartTime;
    await this.files.writeVm(vm);
    this.logger.info('VM rebooted', { vmCid, pid1: vm.pid1 });
  }

  async setVmMetadata(vmCid: string, metadata: VmMetadata): Promise<void> {
    await this.lock.run(async () => {
      const vm = await this.requireVm(vmCid);
      vm.metadata = { ...vm.metadata, ...metadata };
      await this.files.writeVm(vm);
    });
  }

  async createDisk(
    sizeMiB: number,
    _cloudProperties: Record<string, unknown>,
    _vmCid?: string,
  ): Promise<string> {
    checkNewDiskSize(sizeMiB);
    if (this.config.diskKind === 'directory') return this.createDirectoryDisk(sizeMiB);
    // Sparse files take no space yet, but a disk the host cannot fill later is a trap: refuse it now.
    const space = await fs.statfs(this.files.disksDir);
    if (space.bavail * space.bsize < sizeMiB * MiB) {
      throw new NoDiskSpaceError(
        `cannot create a disk of ${sizeMiB} MiB: only ${Math.floor((space.bavail * space.bsize) / MiB)} MiB are free ` +
          `under ${this.files.disksDir}; free space there or ask for a smaller disk`,
      );
    }
    const cid = `disk-${randomBytes(6).toString('hex')}`;
    // Sparse and unformatted: the agent formats a disk without a filesystem on first mount.
    const handle = await fs.open(this.diskFile(cid), 'wx', 0o600);
    try {
      await handle.truncate(sizeMiB * MiB);
    } finally {
      await handle.close();
    }
    await this.files.writeDisk({
      cid,
      sizeMiB,
      attachedTo: null,
      loopDevice: null,
      createdAt: new Date().toISOString(),
    });
    this.logger.info('disk created', { diskCid: cid, sizeMiB });
    return cid;
  }

  async deleteDisk(diskCid: string): Promise<void> {
    await this.lock.run(async () => {
      const disk = await this.requireDisk(diskCid);
      if (disk.attachedTo !== null) {
        throw new CloudError(
          `cannot delete disk ${diskCid}: it is attached to VM ${disk.attachedTo}; detach it or delete the VM first`,
        );
      }
      if (disk.kind === 'directory') await deleteDirectoryDisk(this.files.disksDir, diskCid);
      else await detachLoops(this.diskFile(diskCid));
      await this.files.removeDisk(diskCid);
    });
    this.logger.info('disk deleted', { diskCid });
  }

  async attachDisk(vmCid: string, diskCid: string): Promise<DiskHint> {
    return this.lock.run(async () => {
      const vm = await this.requireVm(vmCid);
      const disk = await this.requireDisk(diskCid);
      if (disk.attachedTo !== null && disk.attachedTo !== vmCid) {
        throw new DiskAttachedElsewhereError(diskCid, disk.attachedTo, vmCid);
      }
      if (disk.kind === 'directory') return this.attachDirectoryDisk(vm, disk);
      const file = this.diskFile(diskCid);
      const existing = await loopDevicesOf(file);
      let device: string;
      if (disk.attachedTo === vmCid && disk.loopDevice !== null && existing.includes(disk.loopDevice)) {
        device = disk.loopDevice; // already attached here: attach is idempotent
      } else {
        if (existing.length > 0) await detachLoops(file);
        device = await attachLoop(file);
      }
      await this.files.writeDisk({ ...disk, attachedTo: vmCid, loopDevice: device });
      await this.updateSettingsDisks(vm, (disks) => ({ ...disks, [diskCid]: { path: device } }));
      await this.syncVmDevice(vm, device, true);
      this.logger.info('disk attached', { vmCid, diskCid, device });
      return { path: device };
    });
  }

  async detachDisk(vmCid: string, diskCid: string): Promise<void> {
    await this.lock.run(async () => {
      const vm = await this.requireVm(vmCid);
      const disk = await this.requireDisk(diskCid);
      if (disk.attachedTo !== vmCid) throw new DiskNotAttachedError(vmCid, diskCid);
      if (disk.kind === 'directory') {
        await this.detachDirectoryDisk(vm, disk);
        return;
      }
      const busy = await busyLoopDevicesOf(this.diskFile(diskCid));
      if (busy.length > 0) {
        // A loop detach of a mounted device is deferred by the kernel and reported as success:
        // the records would say "detached" while the filesystem is still mounted on a live VM.
        throw new CloudError(
          `cannot detach disk ${diskCid} from VM ${vmCid}: its device ${busy.join(', ')} is still in use (mounted on the VM); ` +
            'unmount it first (the agent\'s unmount_disk) or delete the VM',
          { okToRetry: false },
        );
      }
      if (disk.loopDevice !== null) await this.syncVmDevice(vm, disk.loopDevice, false);
      await detachLoops(this.diskFile(diskCid));
      await this.files.writeDisk({ ...disk, attachedTo: null, loopDevice: null });
      await this.updateSettingsDisks(vm, (disks) => {
        const { [diskCid]: _gone, ...rest } = disks;
        return rest;
      });
      this.logger.info('disk detached', { vmCid, diskCid });
    });
  }

  async hasDisk(diskCid: string): Promise<boolean> {
    const disk = isCid(diskCid) ? await this.files.readDisk(diskCid) : null;
    if (disk?.kind === 'directory') {
      return directoryDiskExists(this.files.disksDir, diskCid, disk.attachedTo === null ? null : this.vmDir(disk.attachedTo));
    }
    return disk !== null && existsSync(this.diskFile(diskCid));
  }

  async getDisks(vmCid: string): Promise<string[]> {
    await this.requireVm(vmCid);
    const result: string[] = [];
    for (const disk of await this.files.listDisks()) {
      if (disk.attachedTo !== vmCid) continue;
      if (disk.kind === 'directory') {
        if (directoryDiskAttached(this.vmDir(vmCid), disk.cid)) result.push(disk.cid);
        continue;
      }
      // Cross-check with the kernel: a record whose loop device vanished (host reboot) is not attached.
      const devices = await loopDevicesOf(this.diskFile(disk.cid));
      if (disk.loopDevice !== null && devices.includes(disk.loopDevice)) result.push(disk.cid);
      else this.logger.warn('disk recorded as attached has no loop device', { vmCid, diskCid: disk.cid });
    }
    return result.sort();
  }

  /** The VM a disk is attached to, or null (the optional Cloud.findDiskAttachment). */
  async findDiskAttachment(diskCid: string): Promise<string | null> {
    return (await this.requireDisk(diskCid)).attachedTo;
  }

  async resizeDisk(diskCid: string, newSizeMiB: number): Promise<void> {
    await this.lock.run(async () => {
      const disk = await this.requireDisk(diskCid);
      // A directory has no size to change: the director resizes such a disk by copy.
      if (disk.kind === 'directory') throw new NotSupportedError(`resize_disk of the directory disk ${diskCid}`);
      checkResizeInPlace(disk, newSizeMiB);
      if (newSizeMiB === disk.sizeMiB) return;
      await fs.truncate(this.diskFile(diskCid), newSizeMiB * MiB);
      await this.files.writeDisk({ ...disk, sizeMiB: newSizeMiB });
      this.logger.info('disk resized', { diskCid, fromMiB: disk.sizeMiB, toMiB: newSizeMiB });
    });
  }

  private async createDirectoryDisk(sizeMiB: number): Promise<string> {
    // The size is recorded only: a directory takes what its filesystem has (as with the docker CPI).
    const cid = `disk-${randomBytes(6).toString('hex')}`;
    await createDirectoryDisk(this.files.disksDir, cid);
    await this.files.writeDisk({ cid, sizeMiB, attachedTo: null, loopDevice: null, createdAt: new Date().toISOString(), kind: 'directory' });
    this.logger.info('directory disk created', { diskCid: cid, sizeMiB });
    return cid;
  }

  /** Called holding the lock. A stemcell VM sees the disk at /warden-cpi-dev/<cid>; a host-binaries VM at its host path. */
  private async attachDirectoryDisk(vm: VmRecord, disk: DiskRecord): Promise<DiskHint> {
    const again = disk.attachedTo === vm.cid && directoryDiskAttached(this.vmDir(vm.cid), disk.cid);
    await attachDirectoryDisk(this.files.disksDir, this.vmDir(vm.cid), disk.cid);
    await this.files.writeDisk({ ...disk, attachedTo: vm.cid, loopDevice: null });
    const hint: DiskHint = {
      path: vm.stemcellCid === undefined ? attachedDiskDir(this.vmDir(vm.cid), disk.cid) : path.posix.join(DIRECTORY_DISKS_IN_VM, disk.cid),
    };
    await this.updateSettingsDisks(vm, (disks) => ({ ...disks, [disk.cid]: hint }));
    if (!again) await this.recreateOnAttach(vm, 'attach');
    this.logger.info('directory disk attached', { vmCid: vm.cid, diskCid: disk.cid, path: hint.path });
    return hint;
  }

  private async detachDirectoryDisk(vm: VmRecord, disk: DiskRecord): Promise<void> {
    if (vm.pid1 !== null && (await isAlive(vm.pid1, vm.pid1StartTime))) {
      const busy = await vmMountsOfDirectoryDisk(vm.pid1, disk.cid);
      if (busy.length > 0) {
        throw new CloudError(
          `cannot detach disk ${disk.cid} from VM ${vm.cid}: the VM still has it mounted at ${busy.join(', ')}; unmount it first (the agent's unmount_disk) or delete the VM`,
          { okToRetry: false },
        );
      }
    }
    await detachDirectoryDisk(this.files.disksDir, this.vmDir(vm.cid), disk.cid);
    await this.files.writeDisk({ ...disk, attachedTo: null, loopDevice: null });
    await this.updateSettingsDisks(vm, (disks) => {
      const { [disk.cid]: _gone, ...rest } = disks;
      return rest;
    });
    await this.recreateOnAttach(vm, 'detach');
    this.logger.info('directory disk detached', { vmCid: vm.cid, diskCid: disk.cid });
  }

  /**
   * `recreate_vm_on_attach`: what the docker CPI does on attach and detach (it recreates the VM's
   * container): every process of the running VM is killed, its ephemeral data (agent state,
   * dockerd's images and containers) and root filesystem changes are lost, and it boots again
   * with its current settings. Persistent disks keep their data.
   */
  private async recreateOnAttach(vm: VmRecord, why: 'attach' | 'detach'): Promise<void> {
    if (!this.config.recreateVmOnAttach || vm.pid1 === null || !(await isAlive(vm.pid1, vm.pid1StartTime))) return;
    await killVm(vm.cid, vm.pid1, vm.pid1StartTime);
    await removeVmCgroups(vm.cid, 1000);
    const root = this.vmDir(vm.cid);
    const ephemeral = path.join(root, 'ephemeral');
    // The settings (bosh/) and the console log stay: the CPI rewrites settings, it does not lose them.
    for (const name of await fs.readdir(ephemeral).catch(() => [] as string[])) {
      if (name !== 'bosh' && name !== 'vm-console.log') await fs.rm(path.join(ephemeral, name), { recursive: true, force: true });
    }
    if (vm.stemcellCid !== undefined) {
      const p = stemcellVmPaths(root);
      for (const dir of [p.upper, p.work]) {
        await fs.rm(dir, { recursive: true, force: true });
        await fs.mkdir(dir, { recursive: true });
      }
    }
    if (!netnsExists(vm.cid)) await createVmNetwork(vm.cid, vm.ip, this.config.subnet, this.config.bridgeName);
    const launched = await this.launch(vm);
    vm.pid1 = launched.pid1;
    vm.pid1StartTime = launched.pid1StartTime;
    await this.files.writeVm(vm);
    this.logger.info(`VM recreated on ${why}_disk (recreate_vm_on_attach)`, { vmCid: vm.cid, pid1: vm.pid1 });
  }

  /** Starts the VM's process tree: from its stemcell's root, or (no stemcell) on the host's binaries. */
  private async launch(vm: VmRecord): Promise<{ pid1: number; pid1StartTime: string }> {
    const paths = vmPaths(this.vmDir(vm.cid));
    if (vm.stemcellCid === undefined) {
      return launchVm(vm.cid, paths, this.config.agentCommand, this.config.agentRestartDelaySeconds);
    }
    const rootfs = await this.stemcellRootfs(vm.stemcellCid);
    if (rootfs === null) {
      throw new CloudError(`VM ${vm.cid} boots stemcell ${vm.stemcellCid}, which this cloud no longer has; recreate the VM with an uploaded stemcell`);
    }
    const devices = (await this.files.listDisks())
      .filter((d) => d.attachedTo === vm.cid && d.loopDevice !== null)
      .map((d) => d.loopDevice as string);
    return launchStemcellVm(vm.cid, paths, rootfs, devices, this.config.agentRestartDelaySeconds);
  }

  /** Where the agent's settings are on the host (a stemcell VM reads them through its File source). */
  private settingsFile(vm: VmRecord): string {
    const root = this.vmDir(vm.cid);
    return vm.stemcellCid === undefined ? path.join(root, 'settings.json') : stemcellVmPaths(root).settings;
  }

  /** A loop device attached to (or detached from) a running stemcell VM appears in (leaves) its /dev. */
  private async syncVmDevice(vm: VmRecord, device: string, present: boolean): Promise<void> {
    if (vm.stemcellCid === undefined || vm.pid1 === null || !(await isAlive(vm.pid1, vm.pid1StartTime))) return;
    await (present ? exposeLoopDevice(vm.pid1, device) : hideLoopDevice(vm.pid1, device));
  }

  private async requireVm(vmCid: string): Promise<VmRecord> {
    const vm = isCid(vmCid) ? await this.files.readVm(vmCid) : null;
    if (!vm) throw new VmNotFoundError(vmCid);
    return vm;
  }

  private async requireDisk(diskCid: string): Promise<DiskRecord> {
    const disk = isCid(diskCid) ? await this.files.readDisk(diskCid) : null;
    if (!disk) throw new DiskNotFoundError(diskCid);
    return disk;
  }

  /** Lowest free address of the subnet (or the requested one); allocations persist in vm.json. */
  private async allocateIp(requested: string | undefined): Promise<string> {
    const used = new Set((await this.files.listVms()).map((v) => v.ip));
    const { firstVm, lastVm, cidr } = this.config.subnet;
    if (requested) {
      const n = ipToNumber(requested);
      if (n < firstVm || n > lastVm) {
        throw new CloudError(
          `the requested address ${requested} is not a VM address of the local cloud's subnet ${cidr}; make the manual network's range (and its reserved and static ranges) in the cloud config lie inside ${cidr}, the local cloud's \`subnet\` in the director config`,
        );
      }
      if (used.has(requested))
        throw new CloudError(
          `the requested address ${requested} is already used by another VM of the local cloud (one it addressed itself, e.g. of a deployment without the manual network); add the addresses such VMs get to the manual network's reserved ranges`,
        );
      return requested;
    }
    for (let n = firstVm; n <= lastVm; n++) {
      const ip = numberToIp(n);
      if (!used.has(ip)) return ip;
    }
    throw new CloudError(
      `no free address left in the subnet ${cidr}; delete VMs or configure a larger subnet`,
    );
  }

  private async writeSettings(
    vm: VmRecord,
    request: CreateVmRequest,
    disks: Record<string, DiskHint>,
  ): Promise<void> {
    const root = this.vmDir(vm.cid);
    const { env } = request;
    if (this.config.agentSettings === 'bosh') {
      const networkName = Object.keys(request.networks)[0] ?? 'default';
      const doc = boshSettingsFor({ agentId: request.agentId, vmCid: vm.cid, networkName, ip: vm.ip, netmask: this.config.subnet.netmask, reportIp: this.config.reportVmAddress, disks, env });
      await writeJson(this.settingsFile(vm), doc);
      return;
    }
    const settings: AgentSettings = {
      agentId: request.agentId,
      vmCid: vm.cid,
      directorUrl: env.directorUrl,
      caPem: env.caPem,
      certPem: env.certPem,
      keyPem: env.keyPem,
      ...(env.clientCertPem === undefined ? {} : { clientCertPem: env.clientCertPem }),
      ...(env.directorClientName === undefined ? {} : { directorClientName: env.directorClientName }),
      heartbeatIntervalMs: env.heartbeatIntervalMs,
      ...(env.registryHost === undefined ? {} : { registryHost: env.registryHost }),
      listen: { host: vm.ip, port: AGENT_PORT },
      network: { ip: vm.ip, netmask: this.config.subnet.netmask },
      paths:
        vm.stemcellCid === undefined
          ? {
              root,
              store: path.join(root, 'store'),
              migration: path.join(root, 'migration'),
              ephemeral: path.join(root, 'ephemeral'),
              run: path.join(root, 'run'),
            }
          : STEMCELL_VM_PATHS,
      disks,
      cgroupParent: `/bosun-${vm.cid}`,
      ...(env.extra === undefined ? {} : { extra: env.extra }),
    };
    await writeJson(this.settingsFile(vm), settings);
  }

  private async updateSettingsDisks(
    vm: VmRecord,
    change: (disks: Record<string, DiskHint>) => Record<string, DiskHint>,
  ): Promise<void> {
    const file = this.settingsFile(vm);
    let settings: AgentSettings;
    try {
      settings = JSON.parse(await fs.readFile(file, 'utf8')) as AgentSettings;
    } catch {
      return; // createVm writes the settings after attaching the disks it was given
    }
    if (isBoshSettingsDocument(settings)) {
      await writeJson(file, withPersistentDisks(settings, change));
      return;
    }
    settings.disks = change(settings.disks ?? {});
    await writeJson(file, settings);
  }
}

/** Cids are used in paths and interface names: anything else cannot be one of ours. */
function isCid(cid: string): boolean {
  return /^[A-Za-z0-9-]{1,64}$/.test(cid);
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
