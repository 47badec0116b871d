import { mkdir, readFile, rm } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { InternalError, InvalidInputError, errorMessage } from '../../common/errors.js';
import type { DeploymentSummary, DirectorInfo } from '../../common/contracts/api.js';
import { dataDirPaths, DEFAULT_DATA_DIR, readAdminToken } from '../../director/daemon/data-dir.js';
import { DEFAULT_DIRECTOR_PORT, parseListen } from '../../director/daemon/daemon-config.js';
import { DirectorClient } from '../client.js';
import type { CliContext } from '../context.js';
import {
  isAlive,
  isDirectorAlive,
  probeHealth,
  readDirectorState,
  readPid,
  spawnDirector,
  stopProcess,
  tailFile,
} from '../director-process.js';
import { ExitError, EXIT_USER_ERROR, printJson } from '../output.js';
import { checkPrerequisites } from '../prerequisites.js';
import { globalOptions } from '../global-options.js';
import { assertPurgeable, purgeDataDir, readDirectorNetwork } from '../purge.js';
import { readTarget, readTargetIfAny, targetConfigPath, writeTarget, type Target } from '../target.js';
import { defaultStemcellDir } from '../../stemcell/paths.js';
import { ensureDirectorStemcell } from '../up-stemcell.js';

interface UpOptions {
  dataDir?: string;
  listen?: string;
  directorConfig?: string;
  timeout: string;
  /** A file to upload when the director has no stemcell; false (--no-stemcell): upload none. */
  stemcell?: string | false;
}

export function registerLifecycleCommands(program: Command, context: CliContext): void {
  const dataDirOf = (opts: { dataDir?: string }) =>
    resolve(opts.dataDir ?? context.env['BOSUN_DATA_DIR'] ?? DEFAULT_DATA_DIR);
  /**
   * The director `down` and `status` act on: --data-dir, else the one the CLI targets (its data
   * dir, as `bosun up` recorded it), else $BOSUN_DATA_DIR or the default.
   */
  const targetedDataDir = async (opts: { dataDir?: string }, cmd: Command): Promise<string> => {
    if (opts.dataDir !== undefined) return resolve(opts.dataDir);
    const target = await readTargetIfAny(targetConfigPath(globalOptions(cmd), context.env, context.homeDir));
    return target?.dataDir !== undefined ? resolve(target.dataDir) : dataDirOf(opts);
  };

  program
    .command('up')
    .description('check the host, start the director with the local cloud in the background, and target it')
    .option(
      '--data-dir <dir>',
      `where the director keeps its state (default ${DEFAULT_DATA_DIR} or $BOSUN_DATA_DIR)`,
    )
    .option(
      '--listen <host:port>',
      `API address besides the bridge (default 127.0.0.1:${DEFAULT_DIRECTOR_PORT})`,
    )
    .option('--director-config <file>', 'director config file (YAML)')
    .option('--timeout <seconds>', 'how long to wait for the director to answer', '120')
    .option(
      '--stemcell <file>',
      `stemcell to upload when the director has none (default: the newest ${defaultStemcellDir()}/bosun-debian-12-*.tgz)`,
    )
    .option('--no-stemcell', 'do not upload a stemcell')
    .action(async (opts: UpOptions, cmd: Command) => {
      const problem = checkPrerequisites(context);
      if (problem) throw new InvalidInputError(problem);
      const dataDir = dataDirOf(opts);
      const paths = dataDirPaths(dataDir);
      const listen = opts.listen === undefined ? undefined : parseListen(opts.listen);
      let url = listen ? urlOf(listen.host, listen.port) : `https://127.0.0.1:${DEFAULT_DIRECTOR_PORT}`;
      const targetPath = targetConfigPath(globalOptions(cmd), context.env, context.homeDir);
      const say = (line: string) => process.stdout.write(`${line}\n`);
      const ensureStemcell = async (target: Target): Promise<void> => {
        if (opts.stemcell === false) return;
        const session = { client: new DirectorClient(target), options: globalOptions(cmd), context };
        await ensureDirectorStemcell(
          session,
          { dir: defaultStemcellDir(), ...(typeof opts.stemcell === 'string' ? { file: opts.stemcell } : {}) },
          say,
        );
      };

      const running = await readPid(paths.pidFile);
      if (running !== null && isDirectorAlive(running)) {
        const state = await readDirectorState(dataDir);
        const liveUrl = state?.url ?? url;
        const caPem = await readFile(paths.caCert, 'utf8').catch(() => '');
        if (caPem && (await probeHealth(liveUrl, caPem))) {
          const target = { url: liveUrl, token: await requireToken(dataDir), caPem, dataDir };
          await writeTarget(targetPath, target);
          say(
            `bosun director is already up at ${liveUrl} (pid ${running}, data dir ${dataDir}); CLI target: ${targetPath}.`,
          );
          await ensureStemcell(target);
          return;
        }
        throw new InvalidInputError(
          `A director process (pid ${running}) of ${dataDir} is running but does not answer at ${liveUrl}; look at ${paths.logFile}, or stop it with \`bosun down --data-dir ${dataDir}\` and run \`bosun up\` again.`,
        );
      }

      await mkdir(dataDir, { recursive: true, mode: 0o700 });
      const args = [
        '--data-dir',
        dataDir,
        ...(opts.listen ? ['--listen', opts.listen] : []),
        ...(opts.directorConfig ? ['--config', resolve(opts.directorConfig)] : []),
      ];
      const pid = await spawnDirector(args, paths.logFile, paths.pidFile);
      say(`starting bosun director (pid ${pid}, data dir ${dataDir}, log ${paths.logFile}) …`);
      const deadline = Date.now() + Number(opts.timeout) * 1000;
      let target: Target;
      for (;;) {
        if (!isAlive(pid)) {
          await rm(paths.pidFile, { force: true });
          throw new InternalError(
            `The director exited while starting. The end of ${paths.logFile}:\n${await tailFile(paths.logFile, 20)}`,
          );
        }
        // The director writes its state file (with the URL it serves) once it listens.
        const state = await readDirectorState(dataDir);
        const caPem = await readFile(paths.caCert, 'utf8').catch(() => '');
        if (state?.pid === pid && caPem && (await probeHealth(state.url, caPem))) {
          url = state.url;
          target = { url, token: await requireToken(dataDir), caPem, dataDir };
          await writeTarget(targetPath, target);
          break;
        }
        if (Date.now() > deadline) {
          throw new InternalError(
            `The director (pid ${pid}) did not answer at ${url} within ${opts.timeout}s; look at ${paths.logFile}.`,
          );
        }
        await context.sleep(500);
      }
      say(`bosun director is up at ${url}; the CLI now targets it (${targetPath}).`);
      await ensureStemcell(target);
      say('Next: `bosun upload-image FILE.tar`, then `bosun deploy MANIFEST`.');
    });

  program
    .command('down')
    .description('stop the director the CLI targets (--purge: also delete its VMs, disks and data)')
    .option(
      '--data-dir <dir>',
      `the director's data directory (default: the CLI target's, else $BOSUN_DATA_DIR or ${DEFAULT_DATA_DIR})`,
    )
    .option('--purge', 'delete every VM, disk, network namespace and file the director owns')
    .option('--director-config <file>', 'with --purge: the director config it ran with (default: the one it recorded), for its external CPI')
    .action(async (opts: { dataDir?: string; purge?: boolean; directorConfig?: string }, cmd: Command) => {
      const dataDir = await targetedDataDir(opts, cmd);
      const paths = dataDirPaths(dataDir);
      const say = (line: string) => process.stdout.write(`${line}\n`);
      if (opts.purge) {
        // Both refusals come before anything is stopped.
        if (context.isRoot() === false)
          throw new InvalidInputError(
            'bosun down --purge needs root to delete VMs and disks: run it as root.',
          );
        await assertPurgeable(dataDir);
      }
      const state = await readDirectorState(dataDir);
      const pid = await readPid(paths.pidFile);
      if (pid !== null && isDirectorAlive(pid)) {
        const how = await stopProcess(pid, 30_000, context.sleep);
        say(
          how === 'stopped'
            ? `bosun director (pid ${pid}) stopped.`
            : `bosun director (pid ${pid}) did not stop within 30s and was killed.`,
        );
      } else {
        say(`bosun director of ${dataDir} is not running.`);
      }
      await rm(paths.pidFile, { force: true });
      if (opts.purge) {
        // The running director's state file, else the network its last start recorded: the
        // bridge of this director's config and never a default one it did not use.
        const network =
          state !== null ? { bridgeName: state.bridgeName, subnet: state.subnet } : await readDirectorNetwork(dataDir);
        await purgeDataDir(dataDir, network, say, opts.directorConfig === undefined ? {} : { directorConfig: resolve(opts.directorConfig) });
      }
    });

  program
    .command('status')
    .description('is the director up, where, with which cloud and registry, how many deployments')
    .option('--data-dir <dir>', "the director of this data directory instead of the CLI's target")
    .action(async (opts: { dataDir?: string }, cmd: Command) => {
      const options = globalOptions(cmd);
      const target =
        opts.dataDir === undefined
          ? await readTarget(targetConfigPath(options, context.env, context.homeDir))
          : await targetOfDataDir(resolve(opts.dataDir));
      const dataDir = target.dataDir ?? null;
      const client = new DirectorClient(target, 10_000);
      let info: DirectorInfo;
      let deployments: DeploymentSummary[];
      try {
        info = await client.get<DirectorInfo>('/api/v1/info');
        deployments = await client.get<DeploymentSummary[]>('/api/v1/deployments');
      } catch (err) {
        if (options.json) printJson({ up: false, url: target.url, dataDir, error: errorMessage(err) });
        else
          process.stdout.write(
            `director: down (${errorMessage(err)})\nurl:      ${target.url}\n${dataDir === null ? '' : `data dir: ${dataDir}\n`}`,
          );
        throw new ExitError(EXIT_USER_ERROR);
      }
      const status = {
        up: true,
        url: target.url,
        name: info.name,
        version: info.version,
        cloud: info.cloud,
        registry: info.registry,
        deployments: deployments.length,
        dataDir,
      };
      if (options.json) {
        printJson(status);
        return;
      }
      process.stdout.write(
        [
          `director:    up (${info.name} ${info.version})`,
          `url:         ${target.url}`,
          `cloud:       ${info.cloud}`,
          `registry:    ${info.registry ?? 'none'}`,
          `deployments: ${deployments.length}`,
          ...(dataDir === null ? [] : [`data dir:    ${dataDir}`]),
        ].join('\n') + '\n',
      );
    });
}

function urlOf(host: string, port: number): string {
  const h = host === '0.0.0.0' ? '127.0.0.1' : host;
  return `https://${h.includes(':') ? `[${h}]` : h}:${port}`;
}

/** What `bosun up` would write to the target config for the director of `dataDir`. */
async function targetOfDataDir(dataDir: string): Promise<Target> {
  const paths = dataDirPaths(dataDir);
  const token = await readAdminToken(dataDir).catch(() => null);
  const caPem = await readFile(paths.caCert, 'utf8').catch(() => '');
  if (!token || !caPem)
    throw new InvalidInputError(
      `${dataDir} holds no director (no admin token or CA): start one with \`bosun up --data-dir ${dataDir}\`.`,
    );
  const state = await readDirectorState(dataDir);
  return { url: state?.url ?? urlOf('127.0.0.1', DEFAULT_DIRECTOR_PORT), token, caPem, dataDir };
}

async function requireToken(dataDir: string): Promise<string> {
  const token = await readAdminToken(dataDir);
  if (!token)
    throw new InternalError(
      `The director did not write its admin token to ${dataDirPaths(dataDir).adminToken}; look at its log.`,
    );
  return token;
}
