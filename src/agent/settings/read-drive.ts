/**
 * Reads one file from a settings drive (a block device or an image file) without mounting it:
 * vfat with mtools, ISO 9660 with xorriso, both shipped in the stemcell. No mount means nothing
 * to unmount when the agent dies halfway, and no loop device for an image file.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { InvalidInputError } from '../../common/errors.js';

const execFileAsync = promisify(execFile);

export type DriveFormat = 'vfat' | 'iso9660';

/** Tells vfat from ISO 9660 by their signatures ("CD001" at 32769; "FAT" in the boot sector). */
export async function driveFormat(device: string): Promise<DriveFormat | null> {
  const handle = await open(device, 'r');
  try {
    const head = Buffer.alloc(512);
    await handle.read(head, 0, 512, 0);
    const iso = Buffer.alloc(5);
    await handle.read(iso, 0, 5, 32769);
    if (iso.toString('latin1') === 'CD001') return 'iso9660';
    const fat16 = head.toString('latin1', 54, 57);
    const fat32 = head.toString('latin1', 82, 85);
    if ((fat16 === 'FAT' || fat32 === 'FAT') && head[510] === 0x55 && head[511] === 0xaa) return 'vfat';
    return null;
  } finally {
    await handle.close();
  }
}

/** The text of `filePath` (e.g. "openstack/latest/user_data") on the drive, or null when it has no such file. */
export async function readDriveFile(device: string, filePath: string, signal?: AbortSignal): Promise<string | null> {
  const format = await driveFormat(device);
  const inner = filePath.replace(/^\/+/, '');
  if (format === 'vfat') {
    try {
      const { stdout } = await execFileAsync('mcopy', ['-n', '-i', device, `::${inner}`, '-'], {
        encoding: 'utf8',
        maxBuffer: 16 * 1024 * 1024,
        env: { ...process.env, MTOOLS_SKIP_CHECK: '1' },
        ...(signal ? { signal } : {}),
      });
      return stdout;
    } catch (err) {
      if (/not found|no such file/i.test(String((err as { stderr?: string }).stderr ?? ''))) return null;
      throw err;
    }
  }
  if (format === 'iso9660') {
    // xorriso replaces its target file, so extract into a private temporary directory.
    const dir = await mkdtemp(path.join(tmpdir(), 'bosun-settings-'));
    const out = path.join(dir, 'file');
    try {
      await execFileAsync(
        'xorriso',
        ['-abort_on', 'FAILURE', '-osirrox', 'on', '-indev', device, '-extract', `/${inner}`, out],
        { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024, ...(signal ? { signal } : {}) },
      );
      return await readFile(out, 'utf8');
    } catch (err) {
      const stderr = String((err as { stderr?: string }).stderr ?? '');
      if (/Cannot determine attributes|No such file/i.test(stderr)) return null;
      throw err;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  throw new InvalidInputError(`${device} is neither a vfat nor an ISO 9660 drive: cannot read settings from it.`);
}
