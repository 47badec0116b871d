import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { dataDirPaths } from '../../../src/director/daemon/data-dir.js';
import { startCli, type CliHarness } from './harness.js';

describe('bosun down / status and the data dir', () => {
  let cli: CliHarness;
  let children: ChildProcess[] = [];
  beforeAll(async () => {
    cli = await startCli();
    // stopProcess polls with context.sleep: it must yield, so that the stopped child is reaped.
    cli.context.sleep = (ms) => new Promise((r) => setTimeout(r, Math.min(ms, 20)));
  });
  afterAll(async () => {
    await cli?.close();
  });
  afterEach(() => {
    for (const c of children) c.kill('SIGKILL');
    children = [];
  });

  async function tempDir(): Promise<string> {
    return mkdtemp(join(cli.dir, 'data-'));
  }

  /** A live process that `bosun down` takes for a director (its command line has "director"). */
  async function fakeDirector(dataDir: string): Promise<ChildProcess> {
    const child = spawn(process.execPath, ['-e', "process.on('SIGTERM', () => process.exit(0)); setInterval(() => {}, 1000)", 'director'], {
      stdio: 'ignore',
    });
    children.push(child);
    await new Promise((r) => child.once('spawn', r));
    await writeFile(dataDirPaths(dataDir).pidFile, `${child.pid}\n`);
    return child;
  }

  it('down --purge refuses a directory that is not a bosun data dir, and stops nothing', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'thesis.tex'), 'precious');
    await writeFile(join(dir, 'admin-token'), 'x\n');
    const child = await fakeDirector(dir);
    const res = await cli.run('down', '--purge', '--data-dir', dir);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/Refusing to purge .*: it is not a bosun data directory \(.* holds files a bosun director does not write \(thesis\.tex\)\)/);
    expect(await readFile(join(dir, 'thesis.tex'), 'utf8')).toBe('precious');
    expect(child.exitCode).toBeNull();

    const unmarked = await tempDir();
    await writeFile(join(unmarked, 'director.log'), '');
    const res2 = await cli.run('down', '--purge', '--data-dir', unmarked);
    expect(res2.code).toBe(1);
    expect(res2.stderr).toMatch(/holds none of a director's files/);
    expect(existsSync(join(unmarked, 'director.log'))).toBe(true);
  });

  it('down --purge deletes a data dir that holds only what a director writes', async () => {
    const dir = await tempDir();
    await mkdir(join(dir, 'ca'));
    await writeFile(join(dir, 'ca', 'ca.pem'), 'cert');
    await writeFile(join(dir, 'director.sqlite'), '');
    await mkdir(join(dir, 'uploads'));
    const res = await cli.run('down', '--purge', '--data-dir', dir);
    expect(res.code).toBe(0);
    expect(res.stdout).toContain(`deleted ${dir}`);
    expect(existsSync(dir)).toBe(false);
  });

  it('down and status act on the data dir of the targeted director unless --data-dir says otherwise', async () => {
    const dir = await tempDir();
    const config = parse(await readFile(cli.configPath, 'utf8')) as Record<string, unknown>;
    const targeted = join(cli.dir, 'targeted-config');
    await writeFile(targeted, stringify({ ...config, dataDir: dir }), { mode: 0o600 });
    await fakeDirector(dir);

    const status = await cli.run('--config', targeted, 'status');
    expect(status.code).toBe(0);
    expect(status.stdout).toContain(`data dir:    ${dir}`);

    const other = await tempDir();
    const elsewhere = await cli.run('--config', targeted, 'down', '--data-dir', other);
    expect(elsewhere.stdout).toContain(`bosun director of ${other} is not running`);

    const down = await cli.run('--config', targeted, 'down');
    expect(down.code).toBe(0);
    expect(down.stdout).toMatch(/bosun director \(pid \d+\) stopped/);
    expect(existsSync(dataDirPaths(dir).pidFile)).toBe(false);
    await rm(targeted);
  });

  it('status --data-dir asks the director of that data dir', async () => {
    const dir = await tempDir();
    const paths = dataDirPaths(dir);
    await mkdir(paths.caDir);
    await writeFile(paths.caCert, cli.srv.ca.certPem);
    await writeFile(paths.adminToken, `${cli.srv.token}\n`);
    await writeFile(paths.stateFile, JSON.stringify({ url: cli.srv.url, pid: process.pid, dataDir: dir }));
    const res = await cli.run('--json', 'status', '--data-dir', dir);
    expect(res.code).toBe(0);
    expect(JSON.parse(res.stdout)).toMatchObject({ up: true, url: cli.srv.url, dataDir: dir });
    const none = await cli.run('status', '--data-dir', await tempDir());
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/holds no director .*bosun up --data-dir/);
  });
});
