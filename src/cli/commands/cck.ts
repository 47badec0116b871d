import type { Command } from 'commander';
import { InvalidInputError } from '../../common/errors.js';
import type { CckResult, TaskRef } from '../../common/contracts/api.js';
import type { CliContext } from '../context.js';
import { seg } from '../client.js';
import { ExitError, EXIT_USER_ERROR, printJson, printRows } from '../output.js';
import { openSession, requireDeployment, runTask } from '../session.js';

interface CckOptions {
  report?: boolean;
  auto?: boolean;
  resolution: string[];
}

export function registerCckCommand(program: Command, context: CliContext): void {
  program
    .command('cck')
    .alias('cloud-check')
    .description(
      'scan a deployment (-d) for problems (missing VMs or disks, unresponsive agents …) and fix them',
    )
    .option('--report', 'only report problems; exit 1 when there are any')
    .option('--auto', 'apply the default resolution to every problem')
    .option(
      '--resolution <type=resolution>',
      'resolution for a problem type, e.g. missing_vm=recreate_vm (repeatable)',
      collect,
      [],
    )
    .action(async (opts: CckOptions, cmd: Command) => {
      const s = await openSession(cmd, context);
      const name = requireDeployment(s.options);
      const resolutions = parseResolutions(opts.resolution);
      const report = Boolean(opts.report) || (!opts.auto && Object.keys(resolutions).length === 0);
      const body = {
        report,
        auto: Boolean(opts.auto),
        ...(Object.keys(resolutions).length ? { resolutions } : {}),
      };
      const { task: queued } = await s.client.post<TaskRef>(`/api/v1/deployments/${seg(name)}/cck`, body);
      const { task } = await runTask(s, queued, { printJson: false });
      const result = parseResult(task.result);
      if (s.options.json) printJson(result);
      else printProblems(result, report);
      if (opts.report && result.problems.length > 0) throw new ExitError(EXIT_USER_ERROR);
    });
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function parseResolutions(values: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const value of values) {
    const m = /^([a-z_]+)=([a-z_]+)$/.exec(value);
    if (!m?.[1] || !m[2])
      throw new InvalidInputError(
        `--resolution takes TYPE=RESOLUTION, e.g. missing_vm=recreate_vm; got "${value}".`,
      );
    out[m[1]] = m[2];
  }
  return out;
}

function parseResult(result: string | null): CckResult {
  try {
    const parsed = JSON.parse(result ?? '{}') as Partial<CckResult>;
    return { problems: Array.isArray(parsed.problems) ? parsed.problems : [] };
  } catch {
    return { problems: [] };
  }
}

function printProblems(result: CckResult, report: boolean): void {
  if (result.problems.length === 0) {
    process.stdout.write('No problems found.\n');
    return;
  }
  printRows(
    result.problems,
    [
      { header: '#', value: (p) => p.id },
      { header: 'Type', value: (p) => p.type },
      { header: 'Instance', value: (p) => p.instance },
      { header: 'Description', value: (p) => p.description },
      {
        header: 'Resolutions',
        value: (p) =>
          p.resolutions
            .map((r) => (r.name === p.defaultResolution ? `${r.name} (default)` : r.name))
            .join(', '),
      },
      { header: 'Applied', value: (p) => p.appliedResolution },
    ],
    {},
  );
  if (report)
    process.stdout.write(
      'Fix them with `bosun -d NAME cck --auto`, or choose with `--resolution TYPE=RESOLUTION`.\n',
    );
}
