import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DirectorClient } from '../../../src/cli/client.js';
import { ensureDirectorStemcell, newestBuiltStemcell } from '../../../src/cli/up-stemcell.js';
import type { Session } from '../../../src/cli/session.js';
import { startCli, type CliHarness } from './harness.js';

describe("bosun up's stemcell step", () => {
  let h: CliHarness;
  let session: Session;
  let lines: string[];
  const say = (line: string): void => void lines.push(line);
  const built = (dir: string) => join(h.dir, dir);

  beforeAll(async () => {
    h = await startCli();
    session = { client: new DirectorClient({ url: h.srv.url, token: h.srv.token, caPem: h.srv.ca.certPem }), options: {}, context: h.context };
    await mkdir(built('stemcells'));
    for (const v of ['0.1.0-20261201090000', '0.1.0-20261201215236', '0.0.9-20261231000000'])
      await writeFile(join(built('stemcells'), `bosun-debian-12-${v}.tgz`), Buffer.alloc(100, 1));
    await writeFile(join(built('stemcells'), 'other.tgz'), '');
    await mkdir(built('empty'));
  });
  afterAll(async () => {
    await h?.close();
  });
  beforeEach(() => {
    lines = [];
    h.srv.fake.calls.length = 0;
    h.srv.fake.stemcells.length = 0;
    h.srv.fake.nextTask = { final: 'done', events: [] };
  });

  it('picks the newest built stemcell by version', () => {
    expect(newestBuiltStemcell(built('stemcells'))).toBe(join(built('stemcells'), 'bosun-debian-12-0.1.0-20261201215236.tgz'));
    expect(newestBuiltStemcell(built('empty'))).toBeNull();
    expect(newestBuiltStemcell(built('missing'))).toBeNull();
  });

  it('uploads the newest built stemcell when the director has none', async () => {
    expect(await ensureDirectorStemcell(session, { dir: built('stemcells') }, say)).toBe('uploaded');
    expect(h.srv.fake.calls.filter((c) => c.method === 'uploadStemcell')).toHaveLength(1);
    expect(lines.join('\n')).toContain('uploading ' + join(built('stemcells'), 'bosun-debian-12-0.1.0-20261201215236.tgz'));
  });

  it('uploads the --stemcell file instead, and refuses one that is not there', async () => {
    const file = join(built('stemcells'), 'bosun-debian-12-0.1.0-20261201090000.tgz');
    expect(await ensureDirectorStemcell(session, { dir: built('stemcells'), file }, say)).toBe('uploaded');
    expect(lines.join('\n')).toContain(`uploading ${file}`);
    await expect(ensureDirectorStemcell(session, { dir: built('stemcells'), file: join(h.dir, 'nope.tgz') }, say)).rejects.toThrow(/Cannot read the stemcell .*nope\.tgz/);
  });

  it('changes nothing when the director has a stemcell (bosun up again)', async () => {
    h.srv.fake.stemcells.push({ name: 'bosun-debian-12', version: '1', operatingSystem: 'debian-12', apiVersion: 3, formats: ['warden-tar'], cid: 'sc-1', sha1: 'a'.repeat(40), uploadedAt: '2026-12-01T00:00:00.000Z', vms: [] });
    expect(await ensureDirectorStemcell(session, { dir: built('stemcells') }, say)).toBe('present');
    expect(h.srv.fake.calls.filter((c) => c.method === 'uploadStemcell')).toHaveLength(0);
    expect(lines).toEqual([]);
  });

  it('says how to build one when none is built (and does not fail)', async () => {
    expect(await ensureDirectorStemcell(session, { dir: built('empty') }, say)).toBe('none-built');
    expect(lines.join('\n')).toMatch(/no stemcell and none is built in .*empty: build one with `bash scripts\/build-stemcell.sh`/);
    expect(h.srv.fake.calls.filter((c) => c.method === 'uploadStemcell')).toHaveLength(0);
  });
});
