import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uploadProgressLines, type UploadProgressLine } from '../../../src/registry/upload-image.js';
import { startCli, type CliHarness } from './harness.js';

const stage = 'Uploading image';
const tick = (step: string, progress: number) =>
  ({ stage, step, index: 1, total: 1, state: 'in_progress', progress, data: { transient: true } }) as const;

describe('bosun upload-image progress', () => {
  let cli: CliHarness;
  let tar: string;
  beforeAll(async () => {
    cli = await startCli();
    tar = join(cli.dir, 'image.tar');
    await writeFile(tar, Buffer.alloc(4096, 1));
  });
  afterAll(async () => {
    await cli?.close();
  });

  beforeAll(() => {
    cli.srv.fake.nextTask = {
      final: 'done',
      events: [
        { stage, step: 'acme/web:1', index: 1, total: 1, state: 'started' },
        tick('preparing layers: 1.0 MiB of 4.0 MiB read', 25),
        tick('preparing layers: 2.0 MiB of 4.0 MiB read', 50),
        { stage, step: 'prepared layer 1/2 (1.5 MiB compressed)', index: 1, total: 1, state: 'in_progress' },
        tick('pushing layer 2/2: 3.0 MiB of 4.0 MiB', 75),
        { stage, step: 'layer 2/2 is in the registry', index: 1, total: 1, state: 'in_progress' },
        { stage, step: 'acme/web:1', index: 1, total: 1, state: 'finished', elapsedMs: 10 },
      ],
    };
  });

  it('in a log (not a terminal) prints one line per layer and no percentages', async () => {
    const res = await cli.run('upload-image', tar, '--name', 'acme/web:1');
    expect(res.code).toBe(0);
    expect(res.stdout).toContain('prepared layer 1/2');
    expect(res.stdout).toContain('layer 2/2 is in the registry');
    expect(res.stdout).not.toContain('preparing layers:');
    expect(res.stdout).not.toContain('pushing layer');
    expect(res.stdout).not.toContain('\r');
  });

  it('on a terminal shows the percentages on one line that updates in place', async () => {
    const stdout = process.stdout as { isTTY?: boolean; columns?: number };
    const saved = { isTTY: stdout.isTTY, columns: stdout.columns };
    stdout.isTTY = true;
    stdout.columns = 120;
    try {
      const res = await cli.run('upload-image', tar, '--name', 'acme/web:1');
      expect(res.code).toBe(0);
      const out = res.stdout.replaceAll('\x1b[K', '<EL>');
      expect(out).toMatch(/\r<EL> {2}\S+ \| Uploading image: preparing layers: 1\.0 MiB of 4\.0 MiB read \(1\/1\) in_progress 25%\r<EL>/);
      // A live line never ends with a newline: the next line replaces it.
      expect(res.stdout).not.toMatch(/read \(1\/1\) in_progress 50%\n/);
      expect(out).toMatch(/\r<EL> {2}\S+ \| Uploading image: prepared layer 1\/2/);
    } finally {
      stdout.isTTY = saved.isTTY;
      stdout.columns = saved.columns;
    }
  });
});

describe('upload progress lines', () => {
  it('gives one lasting line per layer and at most one transient line per percent', () => {
    const lines: UploadProgressLine[] = [];
    const p = uploadProgressLines((l) => lines.push(l));
    const total = 1000;
    for (let read = 0; read <= total; read += 1) {
      p.onProgress({ phase: 'preparing', bytesDone: read, bytesTotal: total, layersDone: 0, layersTotal: 2 });
      if (read === 500) p.onLayerPrepared(0, 2, 400);
    }
    p.onLayerPrepared(1, 2, 300);
    for (let layer = 0; layer < 2; layer++) {
      for (let sent = 0; sent <= 350; sent += 10)
        p.onProgress({ phase: 'uploading', bytesDone: layer * 350 + sent, bytesTotal: 700, layersDone: layer, layersTotal: 2 });
    }
    p.onProgress({ phase: 'done', bytesDone: 700, bytesTotal: 700, layersDone: 2, layersTotal: 2 });

    const lasting = lines.filter((l) => !l.transient).map((l) => l.message);
    expect(lasting).toEqual([
      'prepared layer 1/2 (0.0 MiB compressed)',
      'prepared layer 2/2 (0.0 MiB compressed)',
      'layer 1/2 is in the registry',
      'layer 2/2 is in the registry',
    ]);
    const transient = lines.filter((l) => l.transient);
    expect(transient.length).toBeLessThanOrEqual(202);
    expect(transient.length).toBeGreaterThan(50);
    expect(transient.every((l) => typeof l.percent === 'number')).toBe(true);
  });
});
