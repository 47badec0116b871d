import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { VmMetadata } from '../cloud.js';

/** What the local cloud remembers about a VM, in `<dataDir>/vms/<cid>/vm.json`. */
export interface VmRecord {
  cid: string;
  agentId: string;
  ip: string;
  /** Host-side veth name (≤ 15 characters). */
  hostVeth: string;
  /** PID (as seen from the host) of the VM's PID 1 (docker-init), and its start time to detect PID reuse. */
  pid1: number | null;
  pid1StartTime: string | null;
  metadata: VmMetadata;
  createdAt: string;
  /** The stemcell the VM boots (its root's lower layer); absent for a host-binaries VM. */
  stemcellCid?: string;
}

/** What the local cloud remembers about a stemcell, in `<dataDir>/stemcells/<cid>/stemcell.json`. */
export interface StemcellRecord {
  cid: string;
  cloudProperties: Record<string, unknown>;
  createdAt: string;
  /** The unpacked root in the shared stemcell cache (`stemcellCacheDir`); absent: `<cid>/rootfs`. */
  rootfs?: string;
}

/** What the local cloud remembers about a disk, in `<dataDir>/disks/<cid>.json`. */
export interface DiskRecord {
  cid: string;
  sizeMiB: number;
  attachedTo: string | null;
  loopDevice: string | null;
  createdAt: string;
  /** A directory disk (directory-disks.ts); absent: a sparse file attached as a loop device. */
  kind?: 'directory';
}

/**
 * The cloud's only state is these files: a restarted cloud (or a new LocalCloud on the same
 * dataDir) finds its VMs and disks again. Writes go through a temp file + rename so a crash never
 * leaves half a JSON document.
 */
export class CloudFiles {
  constructor(readonly dataDir: string) {}

  get vmsDir(): string {
    return path.join(this.dataDir, 'vms');
  }
  get stemcellsDir(): string {
    return path.join(this.dataDir, 'stemcells');
  }
  stemcellDir(cid: string): string {
    return path.join(this.stemcellsDir, cid);
  }
  /** The unpacked root filesystem of a stemcell: the read-only lower layer of its VMs' roots. */
  stemcellRootfs(cid: string): string {
    return path.join(this.stemcellDir(cid), 'rootfs');
  }
  async readStemcell(cid: string): Promise<StemcellRecord | null> {
    return readJson<StemcellRecord>(path.join(this.stemcellDir(cid), 'stemcell.json'));
  }
  async writeStemcell(record: StemcellRecord): Promise<void> {
    await writeJson(path.join(this.stemcellDir(record.cid), 'stemcell.json'), record);
  }
  async listStemcells(): Promise<StemcellRecord[]> {
    const names = await fs.readdir(this.stemcellsDir).catch(() => [] as string[]);
    const all = await Promise.all(names.map((n) => this.readStemcell(n)));
    return all.filter((s): s is StemcellRecord => s !== null);
  }
  get disksDir(): string {
    return path.join(this.dataDir, 'disks');
  }
  vmDir(cid: string): string {
    return path.join(this.vmsDir, cid);
  }
  diskFile(cid: string): string {
    return path.join(this.disksDir, `${cid}.img`);
  }

  async init(): Promise<void> {
    await fs.mkdir(this.vmsDir, { recursive: true });
    await fs.mkdir(this.disksDir, { recursive: true });
    await fs.mkdir(this.stemcellsDir, { recursive: true });
  }

  async readVm(cid: string): Promise<VmRecord | null> {
    return readJson<VmRecord>(path.join(this.vmDir(cid), 'vm.json'));
  }
  async writeVm(vm: VmRecord): Promise<void> {
    await writeJson(path.join(this.vmDir(vm.cid), 'vm.json'), vm);
  }
  async listVms(): Promise<VmRecord[]> {
    const names = await fs.readdir(this.vmsDir).catch(() => [] as string[]);
    const vms = await Promise.all(names.map((n) => this.readVm(n)));
    return vms.filter((v): v is VmRecord => v !== null);
  }

  async readDisk(cid: string): Promise<DiskRecord | null> {
    return readJson<DiskRecord>(path.join(this.disksDir, `${cid}.json`));
  }
  async writeDisk(disk: DiskRecord): Promise<void> {
    await writeJson(path.join(this.disksDir, `${disk.cid}.json`), disk);
  }
  async removeDisk(cid: string): Promise<void> {
    await fs.rm(path.join(this.disksDir, `${cid}.json`), { force: true });
    await fs.rm(this.diskFile(cid), { force: true });
  }
  async listDisks(): Promise<DiskRecord[]> {
    const names = await fs.readdir(this.disksDir).catch(() => [] as string[]);
    const disks = await Promise.all(
      names.filter((n) => n.endsWith('.json')).map((n) => this.readDisk(n.slice(0, -'.json'.length))),
    );
    return disks.filter((d): d is DiskRecord => d !== null);
  }
}

async function readJson<T>(file: string): Promise<T | null> {
  try {
    return JSON.parse(await fs.readFile(file, 'utf8')) as T;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

export async function writeJson(file: string, value: unknown): Promise<void> {
  const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  await fs.writeFile(tmp, JSON.stringify(value, null, 2) + '\n', { mode: 0o600 });
  await fs.rename(tmp, file);
}
