import type { Command } from 'commander';
import type { Logger } from '../../common/logger.js';
import { buildStemcell, bosunPackageRoot, defaultStemcellCacheDir, defaultStemcellDir } from '../../stemcell/index.js';
import type { CliContext } from '../context.js';
import { printJson, type GlobalOptions } from '../output.js';

interface BuildOptions {
  out?: string;
  cacheDir?: string;
  mirror?: string;
  stemcellVersion?: string;
  force?: boolean;
}

export function registerStemcellCommands(program: Command, _context: CliContext): void {
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
