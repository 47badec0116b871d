import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAgentConfig, readFromSources, settingsSourceFor } from '../../../../src/agent/settings/agent-config.js';
import { CdromSettingsSource } from '../../../../src/agent/settings/cdrom-source.js';
import { ConfigDriveSettingsSource } from '../../../../src/agent/settings/config-drive-source.js';
import { FileSettingsSource } from '../../../../src/agent/settings/file-source.js';
import { HttpSettingsSource } from '../../../../src/agent/settings/http-source.js';
import { driveFormat } from '../../../../src/agent/settings/read-drive.js';

const fast = { timeoutMs: 3000, intervalMs: 20 };
const settings = { agentId: 'agent-1', directorUrl: 'https://10.244.0.1:25555' };
const mtoolsEnv = { ...process.env, MTOOLS_SKIP_CHECK: '1' };

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'bosun-settings-test-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function signal(): AbortSignal {
  return AbortSignal.timeout(10_000);
}

/** A vfat image labelled like an OpenStack config drive, made with mkfs.vfat + mtools. */
function makeVfatConfigDrive(file: string, userData: string, metaData?: string): void {
  execFileSync('mkfs.vfat', ['-C', '-n', 'CONFIG-2', file, '1440'], { stdio: 'ignore' });
  execFileSync('mmd', ['-i', file, '::openstack', '::openstack/latest'], { env: mtoolsEnv });
  const src = path.join(dir, `ud-${path.basename(file)}`);
  writeFileSync(src, userData);
  execFileSync('mcopy', ['-i', file, src, '::openstack/latest/user_data'], { env: mtoolsEnv });
  if (metaData !== undefined) {
    writeFileSync(`${src}.meta`, metaData);
    execFileSync('mcopy', ['-i', file, `${src}.meta`, '::openstack/latest/meta_data.json'], { env: mtoolsEnv });
  }
}

/** An ISO 9660 image (Rock Ridge + Joliet) with xorriso's mkisofs emulation. */
function makeIso(file: string, label: string, files: Record<string, string>): void {
  const tree = path.join(dir, `tree-${path.basename(file)}`);
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(tree, name)), { recursive: true });
    writeFileSync(path.join(tree, name), text);
  }
  execFileSync('xorriso', ['-as', 'mkisofs', '-quiet', '-r', '-J', '-V', label, '-o', file, tree], { stdio: 'ignore' });
}

describe('File settings source', () => {
  it('waits for a file that appears after the agent started, and skips a half-written one', async () => {
    const file = path.join(dir, 'warden-cpi-agent-env.json');
    const source = new FileSettingsSource({ settingsPath: file }, fast);
    const reading = source.read(signal());
    setTimeout(() => writeFileSync(file, '{"agentId": "ag'), 100);
    setTimeout(() => writeFileSync(file, JSON.stringify(settings)), 300);
    expect(JSON.parse(await reading)).toEqual(settings);
  });

  it('names the file when it never appears', async () => {
    const source = new FileSettingsSource({ settingsPath: path.join(dir, 'never.json') }, { timeoutMs: 200, intervalMs: 20 });
    await expect(source.read(signal())).rejects.toThrow(/never\.json.*File settings source/);
  });
});

describe('ConfigDrive settings source', () => {
  it('reads openstack/latest/user_data from a vfat config drive and the instance id from meta_data.json', async () => {
    const drive = path.join(dir, 'config-2.img');
    makeVfatConfigDrive(drive, JSON.stringify(settings), JSON.stringify({ uuid: 'vm-from-metadata' }));
    expect(await driveFormat(drive)).toBe('vfat');
    const source = new ConfigDriveSettingsSource(
      { diskPaths: [path.join(dir, 'missing-drive'), drive], userDataPath: '/openstack/latest/user_data', metaDataPath: '/openstack/latest/meta_data.json' },
      fast,
    );
    expect(JSON.parse(await source.read(signal()))).toEqual({ ...settings, vmCid: 'vm-from-metadata' });
  });

  it('reads an ISO 9660 config drive too', async () => {
    const drive = path.join(dir, 'config-2.iso');
    makeIso(drive, 'config-2', { 'openstack/latest/user_data': JSON.stringify({ ...settings, vmCid: 'vm-1' }) });
    expect(await driveFormat(drive)).toBe('iso9660');
    const source = new ConfigDriveSettingsSource({ diskPaths: [drive], userDataPath: '/openstack/latest/user_data' }, fast);
    expect(JSON.parse(await source.read(signal()))).toEqual({ ...settings, vmCid: 'vm-1' });
  });
});

describe('CDROM settings source', () => {
  it('reads the env file of an ISO', async () => {
    const iso = path.join(dir, 'env.iso');
    makeIso(iso, 'AGENT-ENV', { env: JSON.stringify(settings) });
    const source = new CdromSettingsSource({ devicePath: iso, fileName: 'env' }, fast);
    expect(JSON.parse(await source.read(signal()))).toEqual(settings);
  });

  it('keeps waiting while the ISO has no env file, and says what it waited for', async () => {
    const iso = path.join(dir, 'empty.iso');
    makeIso(iso, 'EMPTY', { other: 'x' });
    const source = new CdromSettingsSource({ devicePath: iso, fileName: 'env' }, { timeoutMs: 300, intervalMs: 50 });
    await expect(source.read(signal())).rejects.toThrow(/CD-ROM .*empty\.iso.*env/);
  });
});

describe('HTTP metadata service settings source', () => {
  let server: Server;
  let base: string;
  let requests = 0;
  beforeAll(async () => {
    server = createServer((req, res) => {
      requests++;
      // Like a metadata service right after boot: no user data for the first two requests.
      if (req.url !== '/latest/user-data' || requests <= 2) {
        res.writeHead(404).end();
        return;
      }
      if (req.headers['metadata-flavor'] !== 'Google') {
        res.writeHead(403).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(settings));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('asks the metadata service until it serves the user data, with the configured headers', async () => {
    const source = new HttpSettingsSource({ uri: base, userDataPath: '/latest/user-data', headers: { 'Metadata-Flavor': 'Google' } }, fast);
    expect(JSON.parse(await source.read(signal()))).toEqual(settings);
    expect(requests).toBeGreaterThanOrEqual(3);
  });
});

describe("agent.json (the stemcell's choice of source)", () => {
  it('parses BOSH’s layout and builds the sources it names', async () => {
    const file = path.join(dir, 'from-agent-json.json');
    writeFileSync(file, JSON.stringify(settings));
    const configs = parseAgentConfig(
      JSON.stringify({
        Infrastructure: {
          Settings: {
            Sources: [
              { Type: 'CDROM', FileName: 'env', DevicePath: path.join(dir, 'no-cdrom') },
              { Type: 'File', SettingsPath: file },
            ],
            UseRegistry: false,
          },
        },
      }),
      'agent.json',
    );
    expect(configs.map((c) => c.Type)).toEqual(['CDROM', 'File']);
    const { text, source } = await readFromSources(configs.map((c) => settingsSourceFor(c, fast)), signal());
    expect(source.type).toBe('File');
    expect(JSON.parse(text)).toEqual(settings);
  });

  it('refuses an agent.json without sources, saying what it expects', () => {
    expect(() => parseAgentConfig('{"Platform": {}}', '/var/vcap/bosh/agent.json')).toThrow(/agent\.json names no usable settings source.*Sources/);
  });
});
