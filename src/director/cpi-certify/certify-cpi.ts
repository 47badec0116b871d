/**
 * `bosun cpi-certify`: what an operator runs before trusting a CPI. A fixed sequence of calls
 * through the external CPI protocol, with a real agent on each VM; every check is timed and says
 * what the CPI answered; everything created is deleted at the end, also after a failure.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NotSupportedError, type CreateVmResult, type VmNetworks } from '../../cloud/cloud.js';
import { ExternalCloud, type ExternalCloudOptions } from '../../cloud/external/index.js';
import type { DiskHint } from '../../common/contracts/disk-hint.js';
import type { AgentApi } from '../../common/contracts/agent-protocol.js';
import { errorMessage } from '../../common/errors.js';
import { openStemcellTarball } from '../../stemcell/index.js';
import { CertifyAgentSide } from './agent-side.js';
import { CheckLog, CheckOutcome, CpiStderrTail, type CheckResult } from './check-log.js';

export interface CertifyOptions {
  cloud: ExternalCloudOptions;
  /** A stemcell tarball to upload (create_stemcell); without it VMs use `stemcellCid`. */
  stemcellFile?: string;
  /** The stemcell cid VMs boot when no stemcell is uploaded (bosun-local-cpi: "default", the host binaries). */
  stemcellCid?: string;
  /** cloud_properties of the VMs and of the disk. */
  vmCloudProperties?: Record<string, unknown>;
  diskCloudProperties?: Record<string, unknown>;
  /** cloud_properties of the VMs' one network (e.g. bosh-docker-cpi: `{name: DOCKER_NETWORK}`). */
  networkCloudProperties?: Record<string, unknown>;
  /**
   * The networks of VM number `index` (0, 1), e.g. from a cloud config (cloud-config-shape.ts);
   * default one dynamic network `default` with `networkCloudProperties`.
   */
  networks?: (index: number) => VmNetworks;
  /** Where the agents send heartbeats (nobody needs to listen). */
  directorUrl?: string;
  /**
   * Receive the agents' heartbeats on this address (one the VMs reach), given to them as the
   * director's URL: for a CPI that tells no VM address, the heartbeat does.
   */
  heartbeatListen?: { host: string; port: number };
  agentTimeoutMs?: number;
  diskMiB?: number;
}

export interface CertifyReport {
  cpi: string;
  passed: boolean;
  checks: CheckResult[];
}

interface Vm {
  agentId: string;
  vmCid: string;
  agent: AgentApi;
}

const FILE = 'cpi-certify.txt';

/** A shell word. */
function q(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * The mount point of the disk on the VM (where the agent mounted it), as `$d`: for a device, the
 * mount of that device; for a directory hint (a bind mount, warden/docker-style CPIs), the other
 * mount point whose root is that same directory (same device and inode).
 */
function mountPointOf(hintPath: string): string {
  const h = q(hintPath);
  const device = `d=$(awk -v dev=${h} '$1==dev{print $2; exit}' /proc/self/mounts)`;
  const directory = `want=$(stat -c %d:%i ${h}); d=$(awk '{print $2}' /proc/self/mounts | while read -r m; do [ "$m" != ${h} ] && [ "$(stat -c %d:%i "$m" 2>/dev/null)" = "$want" ] && { echo "$m"; break; }; done)`;
  return `if [ -d ${h} ]; then ${directory}; else ${device}; fi; [ -n "$d" ] || { echo "no filesystem of ${hintPath} is mounted on the VM" >&2; exit 3; }`;
}

export async function certifyCpi(options: CertifyOptions): Promise<CertifyReport> {
  const stderr = new CpiStderrTail();
  const cloud = new ExternalCloud({ ...options.cloud, logger: options.cloud.logger ?? stderr.logger });
  cloud.setDirectorUuid(`cpi-certify-${randomUUID()}`);
  const log = new CheckLog(stderr);
  const side = new CertifyAgentSide(options.directorUrl ?? 'https://127.0.0.1:9');
  if (options.heartbeatListen !== undefined) await side.startHeartbeats(options.heartbeatListen.host, options.heartbeatListen.port);
  const agentTimeoutMs = options.agentTimeoutMs ?? 180_000;
  const vms: Vm[] = [];
  const disks: string[] = [];
  let stemcellCid: string | undefined;
  let stemcellApiVersion: number | undefined;
  let snapshotCid: string | undefined;
  const token = randomBytes(16).toString('hex');

  let vmIndex = 0;
  const networksOf = (index: number): VmNetworks =>
    options.networks?.(index) ?? { default: { ip: '', netmask: '', ...(options.networkCloudProperties === undefined ? {} : { cloudProperties: options.networkCloudProperties }) } };
  const createVm = async (name: string): Promise<Vm | undefined> => {
    const agentId = `cpi-certify-${randomBytes(4).toString('hex')}`;
    const networks = networksOf(vmIndex++);
    const created = await log.run<CreateVmResult>(
      name,
      true,
      () =>
        cloud.createVm({
          agentId,
          stemcell: stemcellCid ?? options.stemcellCid ?? 'default',
          cloudProperties: options.vmCloudProperties ?? {},
          networks,
          diskCids: [],
          env: side.agentEnv(agentId),
          ...(stemcellApiVersion === undefined ? {} : { stemcellApiVersion }),
        }),
      (r) => `vm ${r.vmCid}, networks ${JSON.stringify(r.networks)}`,
    );
    if (created === undefined) return undefined;
    let ip = Object.values(created.networks)[0]?.ip ?? '';
    const vm: Vm = { agentId, vmCid: created.vmCid, agent: side.agent(agentId, created.vmCid, ip || '0.0.0.0') };
    vms.push(vm);
    const answered = await log.run(`${name}: agent answers ping`, true, async () => {
      const started = Date.now();
      let how = 'create_vm';
      if (ip === '') {
        ip = await side.addressFromHeartbeat(agentId, created.networks, agentTimeoutMs);
        vm.agent = side.agent(agentId, created.vmCid, ip);
        how = 'its heartbeat';
      }
      await side.waitForAgent(vm.agent, Math.max(1, agentTimeoutMs - (Date.now() - started)));
      return `agent ${agentId} at ${ip} (address from ${how})`;
    });
    return answered === undefined ? undefined : vm;
  };

  const attachAndMount = async (vm: Vm, diskCid: string, label: string, newDisk: boolean): Promise<DiskHint | undefined> => {
    const hint = await log.run(`attach_disk (${label})`, true, () => cloud.attachDisk(vm.vmCid, diskCid), (h) => `hint ${JSON.stringify(h)}`);
    if (hint === undefined) return undefined;
    const mounted = await log.run(`the agent mounts the disk (${label})`, true, async () => {
      await side.waitForAgent(vm.agent, agentTimeoutMs); // a CPI may have recreated the VM on attach
      await vm.agent.mountDisk({ diskCid, hint, ...(newDisk ? { newDisk: true } : {}) });
      return `mounted ${diskCid}`;
    });
    return mounted === undefined ? undefined : hint;
  };

  const unmountAndDetach = async (vm: Vm, diskCid: string, label: string): Promise<boolean> => {
    await log.run(`the agent unmounts the disk (${label})`, true, () => vm.agent.unmountDisk(diskCid));
    await log.run(`detach_disk (${label})`, true, () => cloud.detachDisk(vm.vmCid, diskCid));
    return !log.failed(`the agent unmounts the disk (${label})`) && !log.failed(`detach_disk (${label})`);
  };

  const sequence = async (): Promise<void> => {
    const info = await log.run('info', true, () => cloud.cpiInfo(), (i) => `api_version ${i.apiVersion} (CPI said ${JSON.stringify(i.raw)})`);
    if (info === undefined) return;

    if (options.stemcellFile === undefined) {
      log.skip('create_stemcell', false, `no --stemcell given: VMs boot stemcell cid "${options.stemcellCid ?? 'default'}"`);
    } else {
      const file = options.stemcellFile;
      const work = await mkdtemp(join(tmpdir(), 'bosun-cpi-certify-'));
      try {
        stemcellCid = await log.run('create_stemcell', true, async () => {
          const opened = await openStemcellTarball(file, join(work, 'image'));
          stemcellApiVersion = opened.manifest.apiVersion;
          return cloud.createStemcell(opened.imagePath, opened.manifest.cloudProperties);
        });
      } finally {
        await rm(work, { recursive: true, force: true });
      }
      if (stemcellCid === undefined) return;
    }

    const first = await createVm('create_vm');
    if (first === undefined) return;
    await log.run('has_vm (true)', true, async () => {
      if (!(await cloud.hasVm(first.vmCid))) throw new Error(`has_vm answered false for the VM just created (${first.vmCid})`);
      return 'true';
    });
    await log.run('set_vm_metadata', true, () => cloud.setVmMetadata(first.vmCid, { director: 'cpi-certify', deployment: 'cpi-certify', name: 'certify/0' }));

    const diskCid = await log.run('create_disk', true, () => cloud.createDisk(options.diskMiB ?? 128, options.diskCloudProperties ?? {}, first.vmCid));
    if (diskCid === undefined) return;
    disks.push(diskCid);

    const hint = await attachAndMount(first, diskCid, 'first VM', true);
    if (hint === undefined) return;
    await log.run('get_disks', false, async () => {
      const answered = await cloud.getDisks(first.vmCid);
      if (answered.includes(diskCid)) return `trusted: answered ${JSON.stringify(answered)}`;
      return new CheckOutcome('not_trusted', `answered ${JSON.stringify(answered)} for a VM with ${diskCid} attached: set the director's cloud.trust_get_disks: false`);
    });
    const wrote = await log.run('the agent writes a file on the disk', true, async () => {
      const r = await first.agent.runCommand(`${mountPointOf(hint.path)}; printf %s ${q(token)} > "$d/${FILE}" && sync && echo "$d/${FILE}"`);
      if (r.exitCode !== 0) throw new Error(`exit ${r.exitCode}: ${r.stderr.trim() || r.stdout.trim()}`);
      return `wrote ${r.stdout.trim()}`;
    });
    if (wrote === undefined) return;
    if (!(await unmountAndDetach(first, diskCid, 'first VM'))) return;

    const second = await createVm('create_vm (second VM)');
    if (second === undefined) return;
    const hint2 = await attachAndMount(second, diskCid, 'second VM', false);
    if (hint2 === undefined) return;
    await log.run('the file is intact on the second VM', true, async () => {
      const r = await second.agent.runCommand(`${mountPointOf(hint2.path)}; cat "$d/${FILE}"`);
      if (r.exitCode !== 0) throw new Error(`exit ${r.exitCode}: ${r.stderr.trim()}`);
      if (r.stdout !== token) throw new Error(`read ${JSON.stringify(r.stdout)}, wrote ${JSON.stringify(token)}`);
      return 'same content';
    });
    if (!(await unmountAndDetach(second, diskCid, 'second VM'))) return;

    await log.run('resize_disk', true, async () => {
      try {
        await cloud.resizeDisk(diskCid, (options.diskMiB ?? 128) * 2);
        return `grown to ${(options.diskMiB ?? 128) * 2} MiB`;
      } catch (err) {
        if (err instanceof NotSupportedError) return new CheckOutcome('not_supported', `${errorMessage(err)} (the director then grows disks by copy: set cloud.resize_in_place: false)`);
        throw err;
      }
    });
    snapshotCid = await log.run('snapshot_disk (optional)', false, async () => {
      try {
        return await cloud.snapshotDisk(diskCid, { director: 'cpi-certify' });
      } catch (err) {
        if (err instanceof NotSupportedError) return new CheckOutcome('not_supported', errorMessage(err));
        throw err;
      }
    });
    if (snapshotCid !== undefined) {
      const cid = snapshotCid;
      await log.run('delete_snapshot (optional)', false, () => cloud.deleteSnapshot(cid));
      snapshotCid = undefined;
    }
  };

  try {
    await sequence();
  } finally {
    await cleanup();
    side.close();
  }
  return report(cloud, log);

  async function cleanup(): Promise<void> {
    if (snapshotCid !== undefined) {
      const cid = snapshotCid;
      await log.run('delete_snapshot (clean-up)', false, () => cloud.deleteSnapshot(cid));
    }
    for (const vm of vms) {
      await log.run(`delete_vm ${vm.vmCid}`, true, () => cloud.deleteVm(vm.vmCid));
      await log.run(`has_vm ${vm.vmCid} (false)`, true, async () => {
        if (await cloud.hasVm(vm.vmCid)) throw new Error('has_vm still answers true after delete_vm');
        return 'false';
      });
    }
    for (const diskCid of disks) {
      await log.run(`delete_disk ${diskCid}`, true, () => cloud.deleteDisk(diskCid));
      await log.run(`has_disk ${diskCid} (false)`, true, async () => {
        if (await cloud.hasDisk(diskCid)) throw new Error('has_disk still answers true after delete_disk');
        return 'false';
      });
    }
    if (stemcellCid !== undefined) {
      const cid = stemcellCid;
      await log.run(`delete_stemcell ${cid}`, true, () => cloud.deleteStemcell(cid));
    }
    const left = log.results
      .filter((r) => r.status === 'failed' && /^(delete_vm|delete_disk|delete_stemcell|has_vm .* \(false\)|has_disk .* \(false\))/.test(r.name))
      .map((r) => r.name.replace(/^(delete_|has_)/, '').replace(/ \(false\)$/, ''));
    await log.run('nothing left behind', true, async () => {
      if (left.length > 0) throw new Error(`left behind: ${[...new Set(left)].join(', ')}; delete them in the IaaS by hand`);
      return `deleted ${vms.length} VMs, ${disks.length} disks${stemcellCid === undefined ? '' : ' and the stemcell'}`;
    });
  }
}

function report(cloud: ExternalCloud, log: CheckLog): CertifyReport {
  return { cpi: cloud.config.cpi, passed: log.passed, checks: log.results };
}
