import { stat } from 'node:fs/promises';
import type { Command } from 'commander';
import type { StemcellInfo, TaskRef } from '../../common/contracts/api.js';
import { InvalidInputError } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';
import { buildStemcell, bosunPackageRoot, defaultStemcellCacheDir, defaultStemcellDir } from '../../stemcell/index.js';
import type { CliContext } from '../context.js';
import { seg } from '../client.js';
import { printJson, printRows, type GlobalOptions } from '../output.js';
import { openSession, runTask } from '../session.js';
import { confirm } from './confirm.js';

interface BuildOptions {
  out?: string;
  cacheDir?: string;
  mirror?: string;
  stemcellVersion?: string;
  force?: boolean;
}

export function registerStemcellCommands(program: Command, context: CliContext): void {
  program
    .command('build-stemcell')
    .description("build a bosun stemcell (Debian bookworm + dockerd + Node + the agent) in BOSH's stemcell tarball format")
    .option('--out <dir>', 'where to write the tarball', defaultStemcellDir())
    .option('--cache-dir <dir>', 'where the Debian root filesystem is cached between builds', defaultStemcellCacheDir())
    .option('--mirror <url>', "Debian mirror (default: the host's apt source)")
    .option('--stemcell-version <version>', 'version of the stemcell (default: <bosun version>-<UTC date>)')
    .option('--force', 'rebuild even when nothing changed since the last build')
    .action(async (opts: BuildOptions, cmd: Command) => {
      const options = cmd.optsWithGlobals<GlobalOptions & BuildOptions>();
      const logger = progressLogger();
      const result = await buildStemcell({
        repoRoot: bosunPackageRoot(),
        outDir: opts.out ?? defaultStemcellDir(),
        cacheDir: opts.cacheDir ?? defaultStemcellCacheDir(),
        ...(opts.mirror === undefined ? {} : { mirror: opts.mirror }),
        ...(opts.stemcellVersion === undefined ? {} : { version: opts.stemcellVersion }),
        force: opts.force === true,
        logger,
      });
      if (options.json) {
        printJson({
          file: result.file,
          name: result.manifest.name,
          version: result.manifest.version,
          sizeBytes: result.sizeBytes,
          built: result.built,
          baseCached: result.baseCached,
          durationMs: result.durationMs,
        });
        return;
      }
      const what = result.built ? `Built` : 'Up to date:';
      process.stdout.write(
        `${what} ${result.file} (${result.manifest.name}/${result.manifest.version}, ${(result.sizeBytes / 1048576).toFixed(0)} MiB, ${(result.durationMs / 1000).toFixed(1)} s)\n`,
      );
    });

  program
    .command('upload-stemcell <file>')
    .description('upload a stemcell tarball to the director (nothing happens when its name and version is already there)')
    .action(async (file: string, _opts, cmd: Command) => {
      const info = await stat(file).catch(() => null);
      if (!info?.isFile()) {
        throw new InvalidInputError(
          `Cannot read the stemcell ${file}: build one with \`bosun build-stemcell\` (it writes stemcells/bosun-debian-12-VERSION.tgz).`,
        );
      }
      const s = await openSession(cmd, context);
      if (!s.options.json) process.stdout.write(`Uploading ${file} (${(info.size / 1048576).toFixed(0)} MiB)\n`);
      const { task } = await s.client.upload<TaskRef>('/api/v1/stemcells', file, 'application/x-tar');
      await runTask(s, task);
    });

  program
    .command('stemcells')
    .description('list the uploaded stemcells and how many VMs boot each')
    .action(async (_opts, cmd: Command) => {
      const s = await openSession(cmd, context);
      const stemcells = await s.client.get<StemcellInfo[]>('/api/v1/stemcells');
      printRows(
        stemcells,
        [
          { header: 'Name', value: (x) => x.name },
          { header: 'Version', value: (x) => x.version },
          { header: 'OS', value: (x) => x.operatingSystem },
          { header: 'Formats', value: (x) => x.formats.join(', ') },
          { header: 'CID', value: (x) => x.cid },
          { header: 'In use by VMs', value: (x) => x.vms.length },
        ],
        s.options,
      );
    });

  program
    .command('delete-stemcell <name/version>')
    .description('delete an uploaded stemcell (refused while a VM boots it)')
    .action(async (ref: string, _opts, cmd: Command) => {
      const slash = ref.lastIndexOf('/');
      if (slash <= 0 || slash === ref.length - 1) {
        throw new InvalidInputError(
          `Name the stemcell as NAME/VERSION (e.g. bosun-debian-12/0.1.0-20260101000000), not "${ref}"; see \`bosun stemcells\`.`,
        );
      }
      const s = await openSession(cmd, context);
      await confirm(s, `Delete stemcell ${ref}?`);
      const { task } = await s.client.delete<TaskRef>(`/api/v1/stemcells/${seg(ref.slice(0, slash))}/${seg(ref.slice(slash + 1))}`);
      await runTask(s, task);
    });
}

/** Progress lines on stderr ("==> copying …"), so that stdout stays the result. */
function progressLogger(): Logger {
  const line = (msg: string): void => void process.stderr.write(`==> ${msg}\n`);
  const logger: Logger = {
    debug: () => undefined,
    info: line,
    warn: (msg) => line(`warning: ${msg}`),
    error: (msg) => line(`error: ${msg}`),
    child: () => logger,
  };
  return logger;
}
