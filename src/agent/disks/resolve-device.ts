/**
 * Where an attached persistent disk is on this VM, from the disk hint the CPI's attach_disk gave
 * (src/common/contracts/disk-hint.ts), the way BOSH's agent resolves them:
 * - `lun` + `host_device_id` (Azure, SCSI): rescan every SCSI host, then the block device under
 *   /sys/bus/vmbus/devices/<host_device_id>/host*\/target*\/*:*:*:<lun>/block/; without a match
 *   there, any SCSI device whose address ends in :<lun>, but only when exactly one does;
 * - `volume_id` (AWS EBS, OpenStack Cinder) and `id` (GCE, virtio serials): a /dev/disk/by-id link
 *   naming it. NVMe EBS links carry the id without its dash (`nvme-Amazon_Elastic_Block_Store_vol0abc…`),
 *   virtio serials are cut to 20 characters (`virtio-<first 20>`), GCE names `google-<id>` and
 *   `scsi-0Google_PersistentDisk_<id>`; the hint's `path` is the fallback when no link names it;
 * - a `path` (or a hint that is a plain string): that path, symlinks followed. A directory there
 *   is a directory disk (warden/docker-style CPIs bind a host directory into the VM).
 * A new disk may take seconds to appear: the lookup polls until it does or the timeout passes, and
 * the timeout's message names the hint and what was searched. /dev and /sys are injectable, so that
 * tests run against fake trees.
 */
import { readdir, realpath, stat, writeFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import type { DiskHint } from '../../common/contracts/disk-hint.js';
import { NotFoundError, TimeoutError } from '../../common/errors.js';
import { pollUntil } from '../../common/waiting.js';

export type ResolvedDisk = { kind: 'device'; device: string } | { kind: 'directory'; path: string };

export interface ResolveOptions {
  /** Default /dev. A hint path under /dev/ is looked up under this root instead. */
  devDir?: string;
  /** Default /sys. */
  sysDir?: string;
  /** How long a disk may take to appear; default DEFAULT_DISK_WAIT_MS. */
  timeoutMs?: number;
  /** Between two looks; default 250 ms. */
  intervalMs?: number;
  /** SCSI hosts are rescanned on the first look and then every this many looks; default 8. */
  rescanEvery?: number;
  signal?: AbortSignal;
}

/** How long a new disk may take to appear on the VM by default. */
export const DEFAULT_DISK_WAIT_MS = 20_000;

/** Virtio block devices keep only the first 20 characters of a serial. */
const VIRTIO_SERIAL_LENGTH = 20;

/** A hint as settings or attach_disk give it (BOSH's v1 settings may carry a bare path string). */
export function normalizeHint(hint: DiskHint | string): DiskHint {
  return typeof hint === 'string' ? { path: hint } : { ...hint, path: typeof hint.path === 'string' ? hint.path : '' };
}

/** A short, stable description of a hint for messages: `{volume_id: vol-1, path: /dev/xvdf}`. */
export function describeHint(hint: DiskHint): string {
  const parts: string[] = [];
  for (const key of ['lun', 'host_device_id', 'volume_id', 'id', 'path'] as const) {
    const v = hint[key];
    if (v !== undefined && v !== '') parts.push(`${key}: ${String(v)}`);
  }
  return parts.length === 0 ? '{} (the cloud gave no hint)' : `{${parts.join(', ')}}`;
}

export async function resolveDiskHint(raw: DiskHint | string, options: ResolveOptions = {}): Promise<ResolvedDisk> {
  const hint = normalizeHint(raw);
  const devDir = options.devDir ?? '/dev';
  const sysDir = options.sysDir ?? '/sys';
  const rescanEvery = Math.max(1, options.rescanEvery ?? 8);
  const scsi = hint.lun !== undefined && hint.lun !== '';
  const ids = idCandidates(hint);
  if (!scsi && ids.length === 0 && hint.path === '') {
    throw new NotFoundError('The cloud attached the disk but gave an empty disk hint (no path, volume_id, id or lun), so the agent cannot find it; check the CPI\'s attach_disk answer.');
  }
  let looks = 0;
  let searched = '';
  let problem = '';
  const look = async (): Promise<ResolvedDisk | undefined> => {
    const where: string[] = [];
    problem = '';
    if (scsi) {
      if (looks % rescanEvery === 0) await rescanScsi(sysDir);
      const found = await findScsiDevice(sysDir, String(hint.lun), hint.host_device_id);
      where.push(...found.searched);
      if (found.problem) problem = found.problem;
      if (found.name !== undefined) return device(join(devDir, found.name));
    }
    if (ids.length > 0) {
      const byId = join(devDir, 'disk/by-id');
      where.push(`${byId} links naming ${ids.map((c) => `"${c}"`).join(' or ')}`);
      const found = await findById(byId, ids);
      if (found.problem) problem = found.problem;
      if (found.device !== undefined) return device(found.device);
    }
    if (hint.path !== '') {
      const p = inDevDir(hint.path, devDir);
      where.push(p);
      const found = await existing(p);
      if (found !== undefined) return found;
    }
    searched = where.join('; ');
    return undefined;
  };
  try {
    return await pollUntil(
      async () => {
        try {
          return await look();
        } finally {
          looks++;
        }
      },
      {
        timeoutMs: options.timeoutMs ?? DEFAULT_DISK_WAIT_MS,
        intervalMs: options.intervalMs ?? 250,
        what: `the disk ${describeHint(hint)} to appear`,
        ...(options.signal ? { signal: options.signal } : {}),
      },
    );
  } catch (err) {
    if (options.signal?.aborted || !(err instanceof TimeoutError)) throw err;
    throw new TimeoutError(
      `The disk with hint ${describeHint(hint)} did not appear on this VM within ${Math.round((options.timeoutMs ?? DEFAULT_DISK_WAIT_MS) / 100) / 10} s ` +
        `(${looks} looks; searched ${searched || 'nothing'}${problem ? `; ${problem}` : ''}). ` +
        'Check that the cloud attached it to this VM (and that the hint is what this VM sees), then run the command again.',
      { cause: err },
    );
  }
}

function device(path: string): ResolvedDisk {
  return { kind: 'device', device: path };
}

/** The hint's path under the injected /dev root (unchanged for the real /dev and paths elsewhere). */
function inDevDir(path: string, devDir: string): string {
  if (devDir === '/dev' || !(path === '/dev' || path.startsWith('/dev/'))) return path;
  return join(devDir, posix.relative('/dev', path));
}

async function existing(path: string): Promise<ResolvedDisk | undefined> {
  let real: string;
  try {
    real = await realpath(path);
  } catch {
    return undefined; // not there (yet), or a dangling link
  }
  const s = await stat(real);
  return s.isDirectory() ? { kind: 'directory', path: real } : device(real);
}

/** The strings a by-id link of the disk may contain, most exact first. */
export function idCandidates(hint: DiskHint): string[] {
  const out: string[] = [];
  const add = (s: string): void => {
    if (s !== '' && !out.includes(s)) out.push(s);
  };
  for (const raw of [hint.volume_id, hint.id]) {
    if (typeof raw !== 'string' || raw === '') continue;
    add(raw);
    add(raw.replaceAll('-', '')); // NVMe EBS: vol-0abc → vol0abc
  }
  for (const raw of [hint.volume_id, hint.id]) {
    if (typeof raw !== 'string' || raw.length <= VIRTIO_SERIAL_LENGTH) continue;
    add(raw.slice(0, VIRTIO_SERIAL_LENGTH)); // virtio serial (OpenStack Cinder, virtio ids)
  }
  return out;
}

/**
 * The device a by-id link containing one of the candidates points to. Partition links are skipped;
 * candidates are tried in order, so that a full id wins over a truncated one; several links of one
 * candidate pointing at different devices are ambiguous (nothing is returned, the problem is named).
 */
async function findById(byId: string, candidates: string[]): Promise<{ device?: string; problem?: string }> {
  let names: string[];
  try {
    names = await readdir(byId);
  } catch {
    return {};
  }
  const whole = names.filter((n) => !/-part\d+$/.test(n)).sort();
  for (const c of candidates) {
    const devices = new Map<string, string>();
    for (const name of whole.filter((n) => n.includes(c))) {
      const target = await realpath(join(byId, name)).catch(() => undefined);
      if (target !== undefined) devices.set(target, name);
    }
    if (devices.size === 1) return { device: [...devices.keys()][0]! };
    if (devices.size > 1) {
      return { problem: `links naming "${c}" point to different devices (${[...devices.values()].join(', ')})` };
    }
  }
  return {};
}

/** Makes the kernel look for new SCSI disks: "- - -" (every channel, target and LUN) to each host's scan. */
async function rescanScsi(sysDir: string): Promise<void> {
  const hostsDir = join(sysDir, 'class/scsi_host');
  const hosts = await readdir(hostsDir).catch(() => [] as string[]);
  await Promise.all(
    hosts.filter((h) => h.startsWith('host')).map((h) => writeFile(join(hostsDir, h, 'scan'), '- - -').catch(() => undefined)),
  );
}

async function findScsiDevice(
  sysDir: string,
  lun: string,
  hostDeviceId: string | undefined,
): Promise<{ name?: string; searched: string[]; problem?: string }> {
  const searched: string[] = [];
  if (hostDeviceId !== undefined && hostDeviceId !== '') {
    const base = join(sysDir, 'bus/vmbus/devices', hostDeviceId);
    searched.push(`${base}/host*/target*/*:*:*:${lun}/block/`);
    const names = new Set<string>();
    for (const host of await dirs(base, (n) => n.startsWith('host'))) {
      for (const target of await dirs(join(base, host), (n) => n.startsWith('target'))) {
        for (const address of await dirs(join(base, host, target), (n) => endsWithLun(n, lun))) {
          for (const name of await dirs(join(base, host, target, address, 'block'))) names.add(name);
        }
      }
    }
    if (names.size === 1) return { name: [...names][0]!, searched };
  }
  // Any SCSI device at that LUN, only when it is the one: LUN 0 is often the VM's own disk too.
  const scsiDevices = join(sysDir, 'bus/scsi/devices');
  searched.push(`${scsiDevices}/*:*:*:${lun}/block/`);
  const found: string[] = [];
  for (const address of await dirs(scsiDevices, (n) => endsWithLun(n, lun))) {
    for (const name of await dirs(join(scsiDevices, address, 'block'))) found.push(`${address} (${name})`);
  }
  if (found.length === 1) return { name: /\((.*)\)$/.exec(found[0]!)![1]!, searched };
  if (found.length > 1) return { searched, problem: `several SCSI devices are at LUN ${lun} (${found.join(', ')}), so none is taken` };
  return { searched };
}

function endsWithLun(address: string, lun: string): boolean {
  return /^\d+:\d+:\d+:\d+$/.test(address) && address.endsWith(`:${lun}`);
}

/** Names of the directories (or links to directories) in `dir` that pass `filter`; [] when `dir` is missing. */
async function dirs(dir: string, filter: (name: string) => boolean = () => true): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const n of names.filter(filter).sort()) {
    try {
      if ((await stat(join(dir, n))).isDirectory()) out.push(n);
    } catch {
      // vanished meanwhile
    }
  }
  return out;
}
