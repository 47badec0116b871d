import type { Command } from 'commander';
import { InvalidInputError, InvalidManifestError } from '../../common/errors.js';
import { loadManifest, renderManifest } from '../../manifest/index.js';
import type { DiffResponse, InstanceInfo, TaskRef } from '../../common/contracts/api.js';
import type { CliContext } from '../context.js';
import { seg } from '../client.js';
import { ExitError, EXIT_USER_ERROR, printJson } from '../output.js';
import { openSession, runTask, type Session } from '../session.js';
import { confirm } from './confirm.js';
import { addManifestOptions, readManifestInputs, type ManifestFlags } from './manifest-inputs.js';

interface DeployOptions extends ManifestFlags {
  dryRun?: boolean;
  recreate?: boolean;
  showSecrets?: boolean;
}

export function registerDeployCommand(program: Command, context: CliContext): void {
  const command = program
    .command('deploy <manifest>')
    .description(
      'show what a manifest changes, ask, deploy it and stream the task (exit 0 only when every instance runs)',
    )
    .option('--dry-run', 'only show the changes')
    .option('--recreate', 'recreate every VM, even unchanged ones')
    .option('--show-secrets', 'show secret-looking values in the diff');
  addManifestOptions(command).action(async (file: string, opts: DeployOptions, cmd: Command) => {
      const s = await openSession(cmd, context);
      const manifest = await readManifest(file, opts);
      const request = { manifest, recreate: Boolean(opts.recreate), showSecrets: Boolean(opts.showSecrets) };
      const diff = await s.client.post<DiffResponse>('/api/v1/deployments/diff', request);
      if (s.options.deployment && s.options.deployment !== diff.deployment) {
        throw new InvalidInputError(
          `The manifest ${file} describes deployment "${diff.deployment}", not "${s.options.deployment}" (-d); fix its name or the -d flag.`,
        );
      }
      if (opts.dryRun) {
        if (s.options.json) printJson(diff);
        else printDiff(diff);
        return;
      }
      if (!s.options.json) printDiff(diff);
      await confirm(s, `Deploy ${diff.deployment}?`);
      const { task } = await s.client.post<TaskRef>('/api/v1/deployments', request);
      const followed = await runTask(s, task, { printJson: false });
      const instances = await s.client.get<InstanceInfo[]>(
        `/api/v1/deployments/${seg(diff.deployment)}/instances`,
        { ps: true },
      );
      if (s.options.json) printJson({ diff, ...followed, instances });
      checkInstances(s, instances);
    });
}

/**
 * The manifest text to send. With -o/-l/-v it is rendered here, as the BOSH CLI does (ops files
 * and variables never reach the director); problems are reported in the user's own files.
 */
async function readManifest(file: string, flags: ManifestFlags): Promise<string> {
  const { text, render, hasExtras } = await readManifestInputs(file, flags);
  if (!hasExtras) return text;
  const rendered = renderManifest(text, render);
  // Variables left unresolved are named here, in the user's files; everything else (which depends
  // on the director's policy) the director checks.
  try {
    loadManifest(text, render);
  } catch (err) {
    if (!(err instanceof InvalidManifestError)) throw err;
    const unresolved = err.details.problems.filter((p) => p.message.startsWith('unresolved variable'));
    if (unresolved.length > 0) throw new InvalidManifestError(unresolved, { fileName: file });
  }
  return rendered;
}

function printDiff(diff: DiffResponse): void {
  const out = (line: string) => process.stdout.write(`${line}\n`);
  out(`Deployment: ${diff.deployment}`);
  for (const warning of diff.warnings) out(`Warning: ${warning}`);
  if (diff.changes.length === 0 && !diff.text.trim()) {
    out('No changes.');
    return;
  }
  out('');
  out(diff.text.trimEnd());
  out('');
}

/** A deploy succeeded only when every instance that should run does. */
function checkInstances(s: Session, instances: InstanceInfo[]): void {
  const bad = instances.filter((i) =>
    i.desired === 'started' ? i.state !== 'running' : i.state !== 'stopped',
  );
  if (bad.length === 0) {
    if (!s.options.json)
      process.stdout.write(
        `All ${instances.length} instance(s) are ${instances.length ? 'running as desired' : 'as desired'}.\n`,
      );
    return;
  }
  const list = bad.map((i) => `${i.group}/${i.index} is ${i.state}`).join(', ');
  throw new ExitError(
    EXIT_USER_ERROR,
    `The deploy task finished, but ${bad.length} instance(s) are not as desired: ${list}. Look at \`bosun -d NAME instances --ps\` and \`bosun -d NAME logs GROUP/INDEX\`.`,
  );
}
