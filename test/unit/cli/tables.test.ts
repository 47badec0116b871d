import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderTable } from '../../../src/cli/output.js';
import { startCli, type CliHarness } from './harness.js';

const LONG =
  'The agent of docker-vm-1/0 has not sent a heartbeat for 45 s; the resurrector will recreate its VM unless resurrection is off for deployment demo, and its persistent disk disk-0123456789abcdef is re-attached to the new VM afterwards.';

/** Runs with stdout looking like a terminal of `columns` columns. */
async function onTerminal<T>(columns: number, run: () => Promise<T>): Promise<T> {
  const stdout = process.stdout as { isTTY?: boolean; columns?: number };
  const saved = { isTTY: stdout.isTTY, columns: stdout.columns };
  stdout.isTTY = true;
  stdout.columns = columns;
  try {
    return await run();
  } finally {
    stdout.isTTY = saved.isTTY;
    stdout.columns = saved.columns;
  }
}

describe('tables fit the terminal', () => {
  let cli: CliHarness;
  beforeAll(async () => {
    cli = await startCli();
    cli.srv.fake.extraAlerts.push({
      id: 'a2',
      severity: 1,
      category: 'instance_unresponsive',
      title: 'docker-vm-1/0 is not responding',
      summary: LONG,
      deployment: 'demo',
      instance: 'docker-vm-1/0',
      createdAt: '2026-01-01T00:00:00.000Z',
    });
  });
  afterAll(async () => {
    await cli?.close();
  });

  const widest = (text: string) => Math.max(...text.split('\n').map((l) => [...l].length));

  it('bosun alerts wraps long cells to the terminal width, keeping every word', async () => {
    const res = await onTerminal(160, () => cli.run('alerts'));
    expect(res.code).toBe(0);
    expect(widest(res.stdout)).toBeLessThanOrEqual(160);
    expect(res.stdout.split('\n').length).toBeGreaterThan(8);
    const words = res.stdout.replace(/[│|]/g, ' ').split(/\s+/);
    for (const word of LONG.split(' ')) expect(words).toContain(word);
  });

  it('--wide, a pipe and --json keep the full text on one line', async () => {
    const wide = await onTerminal(100, () => cli.run('--wide', 'alerts'));
    expect(widest(wide.stdout)).toBeGreaterThan(100);
    expect(wide.stdout).toContain(LONG);
    const piped = await cli.run('alerts');
    expect(piped.stdout).toContain(LONG);
    const json = await onTerminal(100, () => cli.run('--json', 'alerts'));
    expect(json.stdout).toContain(LONG);
  });

  it('leaves a table that fits as it is', () => {
    const rows = [{ a: 'x', b: 'y' }];
    const columns = [
      { header: 'A', value: (r: { a: string }) => r.a },
      { header: 'B', value: (r: { b: string }) => r.b },
    ];
    expect(renderTable(rows, columns, 80)).toBe(renderTable(rows, columns));
  });
});
