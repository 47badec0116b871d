import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseDurationMs } from '../../../src/common/duration.js';
import { loadDaemonConfig } from '../../../src/director/daemon/daemon-config.js';
import { parseHealthSettings } from '../../../src/director/health/config.js';
import { parseDurationMs as manifestDuration } from '../../../src/manifest/units.js';

describe('the one duration parser', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('accepts one set of forms and refuses bare numbers', () => {
    expect(parseDurationMs('500ms').value).toBe(500);
    expect(parseDurationMs('10s').value).toBe(10_000);
    expect(parseDurationMs('1m30s').value).toBe(90_000);
    expect(parseDurationMs('1.5s').value).toBe(1500);
    expect(parseDurationMs(' 2h ').value).toBe(7_200_000);
    expect(parseDurationMs(30000).error).toBe('30000 has no unit; write a duration like "30000s" or "30000ms"');
    expect(parseDurationMs('30').error).toMatch(/is not a duration/);
    expect(parseDurationMs('10 s').error).toMatch(/is not a duration/);
    expect(parseDurationMs(null).error).toMatch(/got nothing/);
    expect(manifestDuration).toBe(parseDurationMs);
  });

  it('is the parser of the director config top level and of its health: section', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bosun-duration-'));
    dirs.push(dir);
    const file = join(dir, 'director.yml');
    await writeFile(file, 'agent_timeout: 1m30s\nheartbeat_interval: 1.5s\nagent_wait_timeout: 2m\n');
    expect(await loadDaemonConfig({ dataDir: dir, configFile: file })).toMatchObject({
      agentTimeoutMs: 90_000,
      heartbeatIntervalMs: 1500,
      agentWaitTimeoutMs: 120_000,
    });
    await writeFile(file, 'agent_timeout: 30000\n');
    await expect(loadDaemonConfig({ dataDir: dir, configFile: file })).rejects.toThrow(/agent_timeout: 30000 has no unit/);

    const health = parseHealthSettings({ health: { heartbeat_interval: '1.5s', agent_timeout: '1m30s' } });
    expect(health.health).toMatchObject({ heartbeatIntervalMs: 1500, heartbeatTimeoutMs: 90_000 });
    expect(() => parseHealthSettings({ health: { agent_timeout: 30 } })).toThrow(/30 has no unit/);
  });
});
