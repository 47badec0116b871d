/**
 * The bosun agent's entry point: `node dist/src/agent/main.js --settings <vm>/settings.json`.
 * The local cloud runs it inside the VM's restart loop; it logs to <ephemeral>/agent.log.
 */
import { join } from 'node:path';
import { Command } from 'commander';
import { createPinoLogger } from '../common/pino-logger.js';
import { errorMessage } from '../common/errors.js';
import { loadSettings } from './settings.js';
import { Agent } from './agent.js';
import { createAgentServer } from './api/server.js';

async function main(): Promise<void> {
  const program = new Command().name('bosun-agent').requiredOption('--settings <file>', 'the settings file the cloud wrote for this VM').option('--log-level <level>', 'log level', 'info');
  program.parse(process.argv);
  const opts = program.opts<{ settings: string; logLevel: string }>();
  const settings = await loadSettings(opts.settings);
  const log = createPinoLogger({ destination: join(settings.paths.ephemeral, 'agent.log'), level: opts.logLevel, name: 'agent' }).child({ agentId: settings.agentId });
  log.info('agent starting', { pid: process.pid, vmCid: settings.vmCid });
  process.on('unhandledRejection', (err) => log.error('unhandled rejection', { error: errorMessage(err) }));

  const agent = await Agent.create(settings, log);
  const server = await createAgentServer(agent, settings, log);
  agent.run();
  log.info('agent listening', { host: settings.listen.host, port: settings.listen.port });

  const shutdown = (signal: string): void => {
    // dockerd and the containers stay up: a restarted agent adopts them.
    log.info('agent stopping', { signal });
    agent.close();
    void server.close().finally(() => process.exit(0));
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((err: unknown) => {
  process.stderr.write(`bosun agent: ${errorMessage(err)}\n`);
  process.exit(1);
});
